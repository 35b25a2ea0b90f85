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

    // The operator lands on the overview: the first-run checklist leads to the outbox, and the
    // figures count the waiting mail and the registration not yet verified.
    const overview = page.getByTestId('operator-overview');
    await overview.getByTestId('first-run-checklist').waitFor();
    expect(await overview.getByTestId('checklist-mail').textContent()).toContain('offen');
    expect(await overview.getByTestId('checklist-depot').textContent()).toContain('offen');
    expect(await overview.getByTestId('figure-registrations').textContent()).toContain('1 noch nicht bestätigt');
    expect(await overview.getByTestId('figure-outbox').textContent()).toMatch(/[1-9]\d*\s*Mails? warte/);
    expect(await overview.getByTestId('figure-backup').textContent()).toContain('Noch keine Sicherung.');
    // The warning that mail only waits comes once per page: here the checklist says it.
    expect(await page.getByTestId('mail-not-configured').count()).toBe(0);
    await overview.getByTestId('checklist-mail').getByRole('link').click();
    await page.getByTestId('mail-banner').waitFor();
    expect(await page.getByTestId('mail-not-configured').count()).toBe(0);
    const mail = page.getByTestId('outbox-mail').filter({ hasText: 'neugierig@kunde.example' });
    await mail.locator('summary').click();
    // The mail is there, its one-time code masked.
    await expect.poll(() => mail.locator('pre').textContent()).toContain('••••••');
    expect(await mail.locator('pre').textContent()).not.toMatch(/\b\d{6}\b/);

    await page.getByRole('link', { name: 'Benutzer' }).click();
    // Elsewhere the banner says it, and leads to the outbox.
    await page.getByTestId('mail-not-configured').waitFor();
    expect(await page.getByTestId('mail-banner').count()).toBe(0);
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
