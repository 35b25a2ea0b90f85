import { createHash } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

let browser: Browser;
let server: TestServer;
let admin: ApiClient;

function sha256Hash(password: string, salt: string): string {
  return `sha256$${salt}$${createHash('sha256').update(`${salt}${password}`).digest('hex')}`;
}

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer();
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
});
