import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, type ApiClient, createFirstAdmin, registerCustomer } from '../helpers/api.js';
import { createSubAccount, makeOrganization } from '../helpers/organizations.js';
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
  let admin: ApiClient;
  beforeAll(async () => {
    server = await startServer({ env: { SMTP_URL: smtp.url } });
    admin = await createFirstAdmin(server, 'admin@kis.test');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('registers from the first mail, is signed in at once, signs out and logs in again', async () => {
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
    // Signed in at once, on the start page: no second login.
    await expect.poll(() => page.getByTestId('welcome').textContent()).toBe('Willkommen, Nina Neu');
    expect(new URL(page.url()).pathname).toBe('/');
    await expect.poll(() => page.getByTestId('connection-indicator').textContent()).toContain('Verbunden');

    // Nothing personal is kept in the browser's storage.
    const stored = await page.evaluate<string>(
      'JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })',
    );
    expect(stored).not.toContain('neu@kunde.example');

    await page.getByTestId('identity-switcher').locator('summary').click();
    await page.getByRole('button', { name: 'Abmelden' }).click();
    await page.getByText('Sie haben sich abgemeldet.').waitFor();
    // An old page of the account leads to the login now, and the new password logs in.
    await page.goto(`${server.url}/konto`);
    await page.waitForURL(/\/anmelden$/);
    await page.getByLabel('E-Mail-Adresse').fill('neu@kunde.example');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await expect.poll(() => page.getByTestId('welcome').textContent()).toBe('Willkommen, Nina Neu');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('asks a person registering at an address a company invited whether to join, and leaves it out on no', async () => {
    const { main, org } = await makeOrganization(server, smtp, admin, 'Einlader GmbH', 'chef@einlader.example');
    await createSubAccount(main, org.id, { email: 'gefragt@privat.example', rights: ['read_areas'] });
    const page = await (await browser.newContext()).newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/registrieren`);
    await page.getByLabel('E-Mail-Adresse').fill('gefragt@privat.example');
    await page.getByRole('button', { name: 'Code anfordern' }).click();
    const mail = await smtp.waitFor('gefragt@privat.example', /Bestätigungscode/);
    await page.getByLabel('Bestätigungscode').fill(codeIn(mail));
    await page.getByRole('button', { name: 'Bestätigen' }).click();

    const question = page.getByRole('group', { name: 'Einladung von Einlader GmbH' });
    await question.waitFor();
    await page.screenshot({ path: '/tmp/kis-register-invitation.png', fullPage: true });
    await page.getByLabel('Neues Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Passwort speichern' }).click();
    // The browser asks for the answer before anything is sent.
    expect(await page.getByText('Fertig!').count()).toBe(0);
    await question.getByLabel(/Nein, ablehnen/).check();
    await page.getByRole('button', { name: 'Passwort speichern' }).click();
    // Signed in, as a customer of no company.
    await expect.poll(() => page.getByTestId('welcome').textContent()).toContain('Willkommen');
    await smtp.waitFor('chef@einlader.example', /Einladung abgelehnt/);
    expect(problems).toEqual([]);
    await page.context().close();
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

describe('several identities in one browser', () => {
  it('switches between two accounts, each seeing its own data, and signs out one alone', async () => {
    const server = await startServer({ env: { SMTP_URL: smtp.url } });
    const context = await browser.newContext();
    try {
      await createFirstAdmin(server, 'admin@kis.test');
      await registerCustomer(server, smtp, 'anna@firma.example', '127.0.0.1');
      await registerCustomer(server, smtp, 'bert@andere.example', '127.0.0.1');
      const page = await context.newPage();
      const problems = watchErrors(page);
      const signIn = async (email: string): Promise<void> => {
        await page.getByLabel('E-Mail-Adresse').fill(email);
        await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
        await page.getByRole('button', { name: 'Anmelden' }).click();
      };
      const switcher = page.getByTestId('identity-switcher');
      const welcome = page.getByTestId('welcome');

      await page.goto(`${server.url}/anmelden`);
      await signIn('anna@firma.example');
      await expect.poll(() => welcome.textContent()).toContain('anna@firma.example');

      await switcher.locator('summary').click();
      await page.getByRole('link', { name: 'Weiteres Konto hinzufügen' }).click();
      await signIn('bert@andere.example');
      await expect.poll(() => welcome.textContent()).toContain('bert@andere.example');
      await page.goto(`${server.url}/konto`);
      await expect.poll(() => page.getByText('bert@andere.example').first().isVisible()).toBe(true);

      await switcher.locator('summary').click();
      await page.getByRole('button', { name: /Wechseln zu.*anna@firma\.example/ }).click();
      await expect.poll(() => welcome.textContent()).toContain('anna@firma.example');

      // Signing out of Anna leaves Bert signed in.
      await switcher.locator('summary').click();
      await page.getByRole('button', { name: 'Abmelden' }).click();
      await expect.poll(() => welcome.textContent()).toContain('bert@andere.example');
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await server.stop();
    }
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

describe('the first administrator in the browser', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { SMTP_URL: smtp.url } });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('creates the administrator from the set-up link and is signed in as one, without a second login', async () => {
    let token: string | undefined;
    for (let i = 0; i < 100 && !token; i++) {
      token = /#token=([A-Za-z0-9_-]+)/.exec(server.stderr())?.[1];
      if (!token) await new Promise((r) => setTimeout(r, 50));
    }
    expect(token).toBeDefined();
    const page = await (await browser.newContext()).newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/einrichten#token=${token}`);
    await page.getByLabel('E-Mail-Adresse').fill('chefin@betreiber.example');
    await page.getByLabel('Name').fill('Olga Operator');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Administrator anlegen' }).click();
    await expect.poll(() => page.getByTestId('welcome').textContent()).toBe('Willkommen, Olga Operator');
    // An operator: the administration is open to her at once.
    const users = await page.evaluate(async () => (await fetch('/api/admin/users')).status);
    expect(users).toBe(200);
    // The link is spent.
    await page.goto(`${server.url}/einrichten#token=${token}`);
    await page
      .getByRole('alert')
      .getByText(/ungültig oder abgelaufen/)
      .waitFor();
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
