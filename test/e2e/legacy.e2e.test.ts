import { createHash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let browser: Browser;
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;

function sha256Hash(password: string, salt: string): string {
  return `sha256$${salt}$${createHash('sha256').update(`${salt}${password}`).digest('hex')}`;
}

beforeAll(async () => {
  browser = await launchBrowser();
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
  const file = JSON.stringify([
    {
      username: 'k.haupt',
      displayName: 'Karin Haupt',
      company: 'Kanzlei Kurz',
      main: true,
      rights: [],
      passwordHash: sha256Hash('Kanzlei 2019', 'k'),
      products: ['Portal'],
    },
    {
      username: 'k.assistenz',
      displayName: 'Kai Assistenz',
      company: 'Kanzlei Kurz',
      main: false,
      rights: ['read_areas'],
      passwordHash: sha256Hash('Assistenz!', 'a'),
      products: ['Portal'],
    },
    {
      username: 'k.lager',
      displayName: 'Lena Lager',
      company: 'Kanzlei Kurz',
      main: false,
      rights: ['see_depots'],
      passwordHash: sha256Hash('Lager 1', 'l'),
      products: ['Schlüsselbox'],
    },
    {
      username: 'm.meister',
      displayName: 'Mia Meister',
      company: 'Malerei Mohn',
      main: true,
      rights: [],
      passwordHash: sha256Hash('Farbe', 'm'),
      products: [],
    },
  ]);
  const imported = await fetch(`${server.url}/api/admin/legacy/import?format=json&dryRun=false`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      cookie: admin.cookie ?? '',
      'x-csrf-token': admin.csrfToken ?? '',
      'x-forwarded-for': admin.ip,
    },
    body: file,
  });
  expect(imported.status).toBe(200);
  const wave = await admin.post<{ id: string }>('/api/admin/migration/waves', { name: 'Welle Herbst' });
  await admin.post(`/api/admin/migration/waves/${wave.body.id}/companies`, { companies: ['Kanzlei Kurz'] });
  await admin.post(`/api/admin/migration/waves/${wave.body.id}/start`);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

describe('legacy login in the browser', () => {
  it('signs in by user name; an account of a started wave sees that its company switches now', async () => {
    const page = await (await browser.newContext()).newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/anmelden`);
    await page.getByRole('button', { name: 'Bisherigen Benutzernamen verwenden' }).click();
    await page.getByLabel('Benutzername (bisheriges Portal)').fill('k.haupt');
    await page.getByLabel('Passwort').fill('Kanzlei 2019');
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByTestId('welcome').waitFor();
    const notice = page.getByTestId('legacy-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain(
      'Legen Sie für jedes Konto Ihres Unternehmens eine E-Mail-Adresse fest',
    );
    await page.screenshot({ path: '/tmp/kis-legacy-notice.png' });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('lets a company that is in no wave sign in as before, without the notice', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/anmelden?benutzername`);
    await page.getByLabel('Benutzername (bisheriges Portal)').fill('m.meister');
    await page.getByLabel('Passwort').fill('Farbe');
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByTestId('welcome').waitFor();
    await page.waitForTimeout(300);
    expect(await page.getByTestId('legacy-notice').count()).toBe(0);
    await page.context().close();
  });

  it('migrates a company: the main account gives every account its address, each sets a password and signs in by e-mail', async () => {
    const page = await (await browser.newContext()).newPage();
    const problems = watchErrors(page);
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${server.url}/anmelden?benutzername`);
    await page.getByLabel('Benutzername (bisheriges Portal)').fill('k.haupt');
    await page.getByLabel('Passwort').fill('Kanzlei 2019');
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByTestId('legacy-notice').getByRole('link', { name: 'Jetzt umstellen' }).click();

    const wizard = page.getByTestId('migration-wizard');
    const address = (username: string) => wizard.getByLabel(`E-Mail-Adresse für ${username}`);
    const check = (i: number) => wizard.getByTestId('email-check').nth(i);
    // The main account first, then the two sub-accounts (by user name).
    await address('k.haupt').fill('haupt+chef@kanzlei-kurz.example');
    await expect.poll(() => check(0).getAttribute('data-check')).toBe('plus_main');
    await address('k.haupt').fill('haupt@kanzlei-kurz.example');
    await address('k.assistenz').fill('haupt@kanzlei-kurz.example');
    await expect.poll(() => check(1).textContent()).toContain('doppelt eingetragen');
    expect(await wizard.getByRole('button', { name: 'Weiter zur Übersicht' }).isDisabled()).toBe(true);
    // An address with an account elsewhere in KIS is not named as taken (issue 20).
    await address('k.assistenz').fill('admin@kis.test');
    await expect.poll(() => check(1).getAttribute('data-check')).toBe('ok');
    await address('k.assistenz').fill('assistenz@kanzlei-kurz.example');
    await address('k.lager').fill('haupt+lager@kanzlei-kurz.example');
    await wizard.getByLabel('Nachrichten für k.lager an das Hauptkonto umleiten').check();
    for (const i of [0, 1, 2]) await expect.poll(() => check(i).getAttribute('data-check')).toBe('ok');
    await wizard.getByRole('button', { name: 'Weiter zur Übersicht' }).click();
    await wizard.getByRole('button', { name: 'Umstellung bestätigen' }).click();
    await wizard.getByText('Erledigt').waitFor();
    await page.screenshot({ path: '/tmp/kis-migration-done.png', fullPage: true });

    // The user names end, with the way in explained.
    const old = await (await browser.newContext()).newPage();
    await old.goto(`${server.url}/anmelden?benutzername`);
    await old.getByLabel('Benutzername (bisheriges Portal)').fill('k.assistenz');
    await old.getByLabel('Passwort').fill('Assistenz!');
    await old.getByRole('button', { name: 'Anmelden' }).click();
    expect(await old.getByRole('alert').textContent()).toContain('Bitte melden Sie sich mit Ihrer E-Mail-Adresse an');
    await old.context().close();

    // Each account: its link (to the address itself, also Lena's redirected plus-address: using it
    // proves the address), a new password, the first e-mail login.
    const accounts = [
      { inbox: 'haupt@kanzlei-kurz.example', email: 'haupt@kanzlei-kurz.example', name: 'Karin Haupt' },
      { inbox: 'assistenz@kanzlei-kurz.example', email: 'assistenz@kanzlei-kurz.example', name: 'Kai Assistenz' },
      { inbox: 'haupt+lager@kanzlei-kurz.example', email: 'haupt+lager@kanzlei-kurz.example', name: 'Lena Lager' },
    ];
    for (const account of accounts) {
      const mail = await smtp.waitFor(
        account.inbox,
        account.email === account.inbox
          ? /^Ihr neuer Zugang/
          : new RegExp(`\\[${account.email.replace('+', '\\+')}\\]`),
      );
      const link = /https?:\/\/\S+\/einladung#token=\S+/.exec(mail.text)?.[0] ?? '';
      expect(link, mail.text).not.toBe('');
      const own = await (await browser.newContext()).newPage();
      const ownProblems = watchErrors(own);
      // The server runs on a port picked at start, which its public URL cannot know: same path, real port.
      await own.goto(`${server.url}${new URL(link).pathname}${new URL(link).hash}`);
      await own.getByLabel('Neues Passwort').fill(GOOD_PASSWORD);
      await own.getByRole('button', { name: 'Passwort speichern' }).click();
      // Signed in by address at once, no second login: that finishes the account's switch (below).
      await expect.poll(() => own.getByTestId('welcome').textContent()).toContain(account.name);
      expect(ownProblems).toEqual([]);
      await own.context().close();
    }

    // The operators see the wave finished.
    const waves = await admin.get<{
      items: Array<{ name: string; started: number; finished: number; stuck: string[] }>;
    }>('/api/admin/migration/waves');
    expect(waves.body.items.find((w) => w.name === 'Welle Herbst')).toMatchObject({
      started: 3,
      finished: 3,
      stuck: [],
    });
    expect(problems).toEqual([]);
  });

  it('lets an operator check an import file in the browser, see its problems by line, and import it', async () => {
    const page = await (await browser.newContext()).newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/anmelden`);
    await page.getByLabel('E-Mail-Adresse').fill('admin@kis.test');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByTestId('welcome').waitFor();
    await page.getByRole('link', { name: 'Verwaltung' }).click();
    await page.getByTestId('admin-nav').getByRole('link', { name: 'Umstellung' }).click();
    const header = 'username;displayName;company;main;rights;passwordHash;products';
    const bad = `${header}\nt.one;Tom;Tischlerei;nein;;${sha256Hash('x', 'y')};\n`;
    await page.getByLabel('Datei').setInputFiles({ name: 'alt.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    await page.getByRole('button', { name: 'Prüfen' }).click();
    await page.getByTestId('import-problems').getByText('has no main account').waitFor();
    expect(await page.getByRole('button', { name: 'Importieren' }).isDisabled()).toBe(true);

    const good = `${header}\nt.chef;Tina;Tischlerei;ja;;${sha256Hash('Holz', 't')};\nt.geselle;Tim;Tischlerei;nein;read_areas;${sha256Hash('Hobel', 'g')};\n`;
    await page.getByLabel('Datei').setInputFiles({ name: 'alt.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
    await page.getByRole('button', { name: 'Prüfen' }).click();
    await expect
      .poll(() => page.getByTestId('import-report').textContent())
      .toMatch(/Geprüft, noch nichts geschrieben:\s+2 neue/);
    await page.getByRole('button', { name: 'Importieren' }).click();
    await expect.poll(() => page.getByTestId('import-report').textContent()).toMatch(/Importiert:\s+2 neue/);
    await page.screenshot({ path: '/tmp/kis-migration-admin.png', fullPage: true });
    expect(problems).toEqual([]);
  });
});
