import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DepotView } from '@kis/protocol/api';
import { startPayPalStandIn, type PayPalStandIn } from '../../scripts/paypal-standin/server.js';
import type { SimulatedDepot } from '../../scripts/simulator/depot.js';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { registerDepot, simulate } from '../helpers/depots.js';
import { freePort } from '../helpers/net.js';
import { makeOrganization } from '../helpers/organizations.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

const OWNER = 'chef@werkstatt-kraft.example';
let browser: Browser;
let paypal: PayPalStandIn;
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;
let owner: ApiClient;
let depot: SimulatedDepot;
let depotId: string;

beforeAll(async () => {
  browser = await launchBrowser();
  paypal = await startPayPalStandIn();
  smtp = await startSmtp();
  const port = await freePort();
  server = await startServer({
    env: {
      SMTP_URL: smtp.url,
      KIS_PAYPAL_BASE_URL: paypal.url,
      KIS_HTTP_PORT: String(port),
      KIS_PUBLIC_URL: `http://127.0.0.1:${port}`,
    },
  });
  admin = await createFirstAdmin(server, 'admin@kis.test');
  const made = await makeOrganization(server, smtp, admin, 'Werkstatt Kraft', OWNER);
  owner = made.main;
  const registered = await registerDepot(admin, {
    name: 'Schlüsselbox Hof',
    compartments: 4,
    heartbeatSeconds: 1,
    organizationId: made.org.id,
  });
  depotId = registered.depot.depotId;
  depot = simulate(registered.provisioning);
  await depot.start();
  await eventually(async () => (await owner.get<DepotView>(`/api/depots/${depotId}`)).body.online, 5000, 'online');
});
afterAll(async () => {
  await browser?.close();
  await depot?.stop();
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
});

async function signIn(email: string): Promise<{ page: Page; problems: string[] }> {
  const page = await (await browser.newContext()).newPage();
  const problems = watchErrors(page);
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${server.url}/anmelden`);
  await page.getByLabel('E-Mail-Adresse').fill(email);
  await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await page.getByTestId('welcome').waitFor();
  return { page, problems };
}

describe('an invoice paid online releases the key', () => {
  it('owner bills, customer pays at PayPal and gets a PIN, the depot opens with it, the invoice shows picked up', async () => {
    const { page, problems } = await signIn(OWNER);

    // Settings: issuer and PayPal.
    await page.getByRole('link', { name: 'Rechnungen' }).click();
    await page.getByRole('link', { name: 'Einstellungen', exact: true }).click();
    const settings = page.getByTestId('payment-settings');
    await settings.getByLabel('Firma').fill('Werkstatt Kraft GmbH');
    await settings.getByLabel('Straße und Nr.').fill('Industriestraße 5');
    await settings.getByLabel('PLZ').fill('20095');
    await settings.getByLabel('Ort').fill('Hamburg');
    await settings.getByLabel('Steuernummer').fill('22/815/08154');
    await settings.getByLabel('Zahlungen mit PayPal annehmen').check();
    await settings.getByLabel('Client-ID der REST-App').fill('WerkstattKraftApp');
    await settings.getByLabel('Secret').fill('sandbox-secret-0815');
    await settings.getByRole('button', { name: 'Verbindung testen' }).click();
    await expect.poll(() => page.getByTestId('connection-test').textContent()).toContain('Verbindung zu PayPal');
    // New PayPal credentials decide who gets paid: confirmed with the password.
    await settings.getByLabel('Aktuelles Passwort').fill(GOOD_PASSWORD);
    await settings.getByRole('button', { name: 'Speichern' }).click();
    await page.getByText('Gespeichert.').waitFor();
    await smtp.waitFor(OWNER, /PayPal-Zugangsdaten/);

    // A customer.
    await page.getByRole('link', { name: 'Kunden', exact: true }).click();
    const customerForm = page.getByTestId('customer-form');
    await customerForm.getByLabel('Name').fill('Erika Mustermann');
    await customerForm.getByLabel('E-Mail').fill('erika@kundin.example');
    await customerForm.getByLabel('Referenz (z. B. Kennzeichen)').fill('HH-EM 42');
    await customerForm.getByRole('button', { name: 'Speichern' }).click();
    await page.getByTestId('customer-row').filter({ hasText: 'Erika Mustermann' }).waitFor();

    // The invoice: a repair, the key in compartment 3.
    await page.getByRole('link', { name: 'Rechnungen', exact: true }).last().click();
    await page.getByRole('button', { name: 'Neue Rechnung' }).click();
    const form = page.getByTestId('invoice-form');
    await expect.poll(() => form.getByLabel('Kunde').inputValue()).not.toBe('');
    const item = form.getByTestId('invoice-item').first();
    await item.getByLabel('Leistung').fill('Bremsbeläge vorn erneuert');
    await item.getByLabel('Menge').fill('1');
    await item.getByLabel('Einzelpreis netto (€)').fill('210,00');
    await expect.poll(() => form.getByTestId('invoice-totals').textContent()).toContain('249,90');
    await form.getByLabel('Schlüsselabholung').selectOption({ label: 'Schlüsselbox Hof – Fach 3' });
    await form.getByRole('button', { name: 'Als Entwurf speichern' }).click();
    await page.getByTestId('invoice').waitFor();
    await page.getByRole('button', { name: 'Ausstellen und senden' }).click();
    await expect.poll(() => page.getByTestId('invoice-state').getAttribute('data-state')).toBe('open');
    const payLink = await page.getByTestId('pay-link').inputValue();
    expect(payLink).toMatch(/\/bezahlen\/[A-Za-z0-9_-]{32}$/);
    const mail = await smtp.waitFor('erika@kundin.example', /Rechnung RE-00001/);
    expect(mail.text).toContain(payLink);

    // The customer opens the link from the mail: no account.
    const customer = await (await browser.newContext()).newPage();
    const customerProblems = watchErrors(customer);
    await customer.goto(payLink);
    await customer.getByRole('heading', { name: 'Rechnung RE-00001' }).waitFor();
    expect(await customer.getByTestId('pay-totals-gross').textContent()).toContain('249,90');
    await customer.getByRole('button', { name: 'Mit PayPal bezahlen' }).click();
    // At PayPal (the stand-in): approve.
    await customer.waitForURL(`${paypal.url}/checkoutnow**`);
    await customer.getByRole('button', { name: 'Jetzt bezahlen' }).click();
    // Back at KIS: paid, with the PIN.
    await customer.getByTestId('pay-pin').waitFor();
    const digits = (await customer.getByTestId('pin-digits').textContent())?.trim() ?? '';
    expect(digits).toMatch(/^\d{6}$/);
    expect(new URL(customer.url()).search).toBe('');
    await customer.screenshot({ path: '/tmp/kis-pay-pin.png', fullPage: true });

    // At the depot: the PIN opens compartment 3, the key is taken.
    let opened: { pinId: string; comp: number } | undefined;
    await eventually(() => (opened = depot.enterPin(digits)) !== undefined, 10_000, 'the depot knows the PIN');
    expect(opened?.comp).toBe(3);
    depot.takeKey(3, opened?.pinId);

    // The owner's page follows: picked up.
    await expect
      .poll(() => page.getByTestId('invoice-state').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('picked_up');
    await page.screenshot({ path: '/tmp/kis-invoice.png', fullPage: true });
    // And the customer's page no longer shows the PIN.
    await customer.reload();
    await customer.getByText('Der Schlüssel wurde abgeholt.').waitFor();
    expect(await customer.getByTestId('pay-pin').count()).toBe(0);
    expect(problems).toEqual([]);
    expect(customerProblems).toEqual([]);
  });
});
