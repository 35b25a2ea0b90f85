import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { customer } from '../helpers/organizations.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../helpers/smtp.js';

const ADMIN = 'admin@kis.test';
let browser: Browser;
let smtp: TestSmtp;
let server: TestServer;

beforeAll(async () => {
  browser = await launchBrowser();
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  await createFirstAdmin(server, ADMIN);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

async function signIn(email: string, page?: Page): Promise<Page> {
  const p = page ?? (await (await browser.newContext({ acceptDownloads: true })).newPage());
  p.on('dialog', (dialog) => void dialog.accept());
  await p.goto(`${server.url}/anmelden`);
  await p.getByLabel('E-Mail-Adresse').fill(email);
  await p.getByLabel('Passwort').fill(GOOD_PASSWORD);
  await p.getByRole('button', { name: 'Anmelden' }).click();
  await p.getByTestId('welcome').waitFor();
  return p;
}

describe('privacy in the browser', () => {
  it('downloads one’s data and deletes one’s account from the account page', async () => {
    await customer(server, smtp, 'weg@kunde-browser.example');
    const page = await signIn('weg@kunde-browser.example');
    const problems = watchErrors(page);
    await page.goto(`${server.url}/konto`);
    const panel = page.getByTestId('privacy-panel');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      panel.getByRole('link', { name: 'Meine Daten herunterladen' }).click(),
    ]);
    const zip = await readFile(await download.path());
    expect(zip.subarray(0, 2).toString()).toBe('PK');
    await page.screenshot({ path: '/tmp/kis-account-privacy.png', fullPage: true });

    await panel.getByLabel('Ihr Passwort zur Bestätigung').fill(GOOD_PASSWORD);
    await panel.getByRole('button', { name: 'Konto endgültig löschen' }).click();
    await page.waitForURL(`${server.url}/anmelden`);
    await page.getByLabel('E-Mail-Adresse').fill('weg@kunde-browser.example');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('alert').waitFor();
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('revokes consent through the public form and shows the request to operators', async () => {
    await customer(server, smtp, 'widerruf@kunde-browser.example');
    const page = await (await browser.newContext()).newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Einwilligung widerrufen' }).click();
    const form = page.getByTestId('revocation');
    await form.getByLabel('Ihre E-Mail-Adresse').fill('widerruf@kunde-browser.example');
    const since = smtp.mails.length;
    await form.getByRole('button', { name: 'Code senden' }).click();
    const mail = await smtp.waitFor('widerruf@kunde-browser.example', /Widerruf bestätigen/, { since });
    await form.getByLabel('Code aus der E-Mail').fill(codeIn(mail));
    await form.getByRole('button', { name: 'Widerruf bestätigen' }).click();
    await form.getByText('Ihr Widerruf ist eingegangen').waitFor();
    expect(problems).toEqual([]);

    const operator = await signIn(ADMIN);
    await operator.getByRole('link', { name: 'Verwaltung' }).click();
    await operator.getByTestId('admin-nav').getByRole('link', { name: 'Datenschutz' }).click();
    const row = operator.getByTestId('erasure-row').filter({ hasText: 'Widerruf' });
    await row.first().waitFor();
    expect(await row.first().getAttribute('data-state')).toBe('done');
    // Done: the address is masked.
    expect(await row.first().textContent()).toContain('w…@kunde-browser.example');
    await operator.screenshot({ path: '/tmp/kis-admin-privacy.png', fullPage: true });
  });

  it('removes another identity from this browser without touching the current one', async () => {
    await customer(server, smtp, 'eins@kunde-browser.example');
    await customer(server, smtp, 'zwei@kunde-browser.example');
    const page = await signIn('eins@kunde-browser.example');
    await page.goto(`${server.url}/anmelden?weiteres=1`);
    await page.getByLabel('E-Mail-Adresse').fill('zwei@kunde-browser.example');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.getByTestId('welcome').waitFor();
    const switcher = page.getByTestId('identity-switcher');
    await switcher.locator('summary').click();
    await switcher.getByRole('button', { name: 'eins@kunde-browser.example aus diesem Browser entfernen' }).click();
    await expect.poll(() => switcher.getByText('Wechseln zu').count()).toBe(0);
    expect(await switcher.locator('summary').textContent()).toContain('zwei@kunde-browser.example');
    const identities = await page.evaluate(
      "fetch('/api/auth/identities', { headers: { 'x-kis-identity': '1' } }).then((r) => r.json())",
    );
    expect(JSON.stringify(identities)).not.toContain('eins@kunde-browser.example');
  });
});
