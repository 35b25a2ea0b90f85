import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../helpers/smtp.js';

let browser: Browser;
let smtp: TestSmtp;

beforeAll(async () => {
  [browser, smtp] = await Promise.all([launchBrowser(), startSmtp()]);
});
afterAll(async () => {
  await browser?.close();
  await smtp?.close();
});

describe('accounts in the browser', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { SMTP_URL: smtp.url } });
    await createFirstAdmin(server, 'admin@kis.test');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('registers from the first mail to the first login and signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchErrors(page);

    await page.goto(`${server.url}/registrieren`);
    await page.getByLabel('E-Mail-Adresse').fill('neu@kunde.example');
    await page.getByRole('button', { name: 'Code anfordern' }).click();
    await page.getByLabel('Bestätigungscode').waitFor();

    const mail = await smtp.waitFor('neu@kunde.example', /Bestätigungscode/);
    await page.getByLabel('Bestätigungscode').fill(codeIn(mail));
    await page.getByRole('button', { name: 'Bestätigen' }).click();

    await page.getByLabel('Name').fill('Nina Neu');
    await page.getByLabel('Neues Passwort').fill('password1234');
    await page.getByRole('button', { name: 'Passwort speichern' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('zu verbreitet');
    await page.getByLabel('Neues Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Passwort speichern' }).click();
    await page.getByText('Fertig! Sie können sich jetzt anmelden.').waitFor();

    await page.getByRole('main').getByRole('link', { name: 'Anmelden' }).click();
    await page.waitForURL(/\/anmelden$/);
    await page.getByLabel('E-Mail-Adresse').fill('neu@kunde.example');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await expect.poll(() => page.getByTestId('welcome').textContent()).toBe('Willkommen, Nina Neu');
    await expect.poll(() => page.getByTestId('connection-indicator').textContent()).toContain('Verbunden');

    // Nothing personal is kept in the browser's storage.
    const stored = await page.evaluate<string>(
      'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })',
    );
    expect(stored).not.toContain('neu@kunde.example');

    await page.getByRole('button', { name: 'Abmelden' }).click();
    await page.getByText('Sie haben sich abgemeldet.').waitFor();
    // An old page of the account leads to the login now.
    await page.goto(`${server.url}/konto`);
    await page.waitForURL(/\/anmelden$/);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows a wrong password without saying whether the account exists', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/anmelden`);
    await page.getByLabel('E-Mail-Adresse').fill('niemand@kunde.example');
    await page.getByLabel('Passwort').fill('irgendein falsches Passwort');
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('E-Mail-Adresse oder Passwort ist falsch.');
    await page.close();
  });
});

describe('idle sessions in the browser', () => {
  it('warns before the idle end, stays on request, and sends an idle user to the login', async () => {
    const server = await startServer({ env: { KIS_SESSION_IDLE_SECONDS: '6', KIS_SESSION_WARNING_SECONDS: '4' } });
    const context = await browser.newContext();
    try {
      await createFirstAdmin(server, 'idle@kis.test');
      const page = await context.newPage();
      await page.goto(`${server.url}/anmelden`);
      await page.getByLabel('E-Mail-Adresse').fill('idle@kis.test');
      await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
      await page.getByRole('button', { name: 'Anmelden' }).click();
      await page.getByTestId('welcome').waitFor();

      const warning = page.getByTestId('session-warning');
      await warning.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await warning.textContent()).toContain('wegen Inaktivität abgemeldet');
      await page.getByRole('button', { name: 'Angemeldet bleiben' }).click();
      await warning.waitFor({ state: 'hidden' });

      // Now stay idle: the server ends the session and the page goes to the login.
      await page.waitForURL(/\/anmelden$/, { timeout: 15_000 });
      await page.getByText('wegen Inaktivität abgelaufen').waitFor();
    } finally {
      await context.close();
      await server.stop();
    }
  });
});
