import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, registerCustomer } from '../helpers/api.js';
import { acceptInvitation } from '../helpers/organizations.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let browser: Browser;
let smtp: TestSmtp;
let server: TestServer;

beforeAll(async () => {
  [browser, smtp] = await Promise.all([launchBrowser(), startSmtp()]);
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  const admin = await createFirstAdmin(server, 'admin@kis.test');
  await registerCustomer(server, smtp, 'chefin@acme.example', '127.0.0.1');
  const created = await admin.post('/api/admin/organizations', { name: 'Acme GmbH', mainEmail: 'chefin@acme.example' });
  expect(created.status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

describe('a main account in the browser', () => {
  it('invites a plus-address sub-account whose mail comes to the main account', async () => {
    const page = await browser.newPage();
    const problems = watchErrors(page);
    await page.goto(`${server.url}/anmelden`);
    await page.getByLabel('E-Mail-Adresse').fill('chefin@acme.example');
    await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    // The login ends on the start page: a click before that would be undone by it.
    await page.getByTestId('welcome').waitFor();
    await page.getByRole('link', { name: 'Mein Unternehmen' }).click();
    await page.getByRole('heading', { name: 'Acme GmbH' }).waitFor();

    const form = page.getByRole('region', { name: 'Neues Unterkonto' });
    await form.getByLabel('E-Mail-Adresse').fill('chefin+lager@acme.example');
    await form.getByLabel('Name').fill('Lager');
    await form.getByLabel('Depots sehen').check();
    await form.getByLabel('E-Mails an das Hauptkonto umleiten', { exact: false }).check();
    await form.getByRole('button', { name: 'Unterkonto anlegen und einladen' }).click();

    await page.getByText('Die Einladung an chefin+lager@acme.example ist unterwegs.').waitFor();
    const row = page.getByTestId('member-row').filter({ hasText: 'chefin+lager@acme.example' });
    await expect.poll(() => row.textContent()).toContain('Depots sehen');
    expect(await row.textContent()).toContain('E-Mails gehen an das Hauptkonto');

    // The invitation goes to the plus-address itself (its mailbox is the main account's anyway):
    // using it proves the address, and from then on the sub-account's mail comes to the main account.
    const lager = await acceptInvitation(server, smtp, 'chefin+lager@acme.example');
    expect((await lager.get('/api/account')).body).toMatchObject({ email: 'chefin+lager@acme.example' });
    await new ApiClient(server, '192.0.2.99').post('/api/auth/password/forgot', { email: 'chefin+lager@acme.example' });
    const reset = await smtp.waitFor('chefin@acme.example', /zurücksetzen/);
    expect(reset.text).toContain('Unterkonto chefin+lager@acme.example');
    expect(problems).toEqual([]);
    await page.close();
  });
});
