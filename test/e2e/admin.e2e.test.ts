import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

let browser: Browser;
let server: TestServer;

beforeAll(async () => {
  // No SMTP_URL: the embedded default, where mails wait in the outbox.
  [browser, server] = await Promise.all([launchBrowser(), startServer()]);
  await createFirstAdmin(server, 'admin@kis.test');
  await new ApiClient(server, '127.0.0.1').post('/api/auth/register', { email: 'neugierig@kunde.example' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('an operator in the browser', () => {
  it('reads waiting mails in the outbox, finds users and the audit log', async () => {
    const page = await browser.newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/anmelden`);
    await page.getByLabel('E-Mail-Adresse').fill('admin@kis.test');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();

    // The banner says mail is not configured, and leads to the outbox.
    await page.getByTestId('mail-not-configured').getByRole('link').click();
    await page.getByTestId('mail-banner').waitFor();
    const mail = page.getByTestId('outbox-mail').filter({ hasText: 'neugierig@kunde.example' });
    await mail.locator('summary').click();
    // The mail is there, its one-time code masked.
    await expect.poll(() => mail.locator('pre').textContent()).toContain('••••••');
    expect(await mail.locator('pre').textContent()).not.toMatch(/\b\d{6}\b/);

    await page.getByRole('link', { name: 'Benutzer' }).click();
    await page.getByLabel('Suche nach Name oder E-Mail').fill('neugierig');
    await page.getByRole('button', { name: 'Filtern' }).click();
    await expect.poll(() => page.getByTestId('user-row').count()).toBe(1);
    expect(await page.getByTestId('user-row').textContent()).toContain('unbestätigt');

    await page.getByRole('link', { name: 'Protokoll' }).click();
    await expect.poll(() => page.getByTestId('audit-row').count()).toBeGreaterThan(1);
    expect(await page.getByTestId('audit-row').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('register.started')]),
    );
    expect(problems).toEqual([]);
    await page.close();
  });
});
