import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentSettings } from '@kis/protocol/api';
import { startPayPalStandIn, type PayPalStandIn } from '../../scripts/paypal-standin/server.js';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { acceptInvitation, makeOrganization, type Org } from '../helpers/organizations.js';
import { ISSUER, setUpPayments } from '../helpers/payments.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Issue 20, finding 3: the PayPal credentials decide who gets paid for every invoice. Whoever
 * holds a signed-in browser of someone allowed to bill must not be able to swap them for their
 * own without the password, and the company's main account hears of every change.
 */
const MAIN = 'chefin@kasse.example';
const CLERK = 'buchhaltung@kasse.example';
let paypal: PayPalStandIn;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let main: ApiClient;
let clerk: ApiClient;
let org: Org;

beforeAll(async () => {
  paypal = await startPayPalStandIn();
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url, KIS_PAYPAL_BASE_URL: paypal.url } });
  admin = await createFirstAdmin(server);
  ({ org, main } = await makeOrganization(server, smtp, admin, 'Kasse & Co', MAIN));
  const created = await main.post(`/api/organizations/${org.id}/sub-accounts`, {
    email: CLERK,
    name: 'Buchhaltung',
    rights: ['manage_invoices'],
    password: GOOD_PASSWORD,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  clerk = await acceptInvitation(server, smtp, CLERK);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
});

/** The settings a clerk would save: the company's issuer, and the given PayPal app. */
function update(paypalApp: { clientId: string; secret?: string; mode?: 'sandbox' | 'live' } | null, password?: string) {
  return {
    issuer: ISSUER,
    numberPrefix: 'RE-',
    paymentTermDays: 14,
    pinValidDays: 7,
    paypal: paypalApp
      ? {
          clientId: paypalApp.clientId,
          secret: paypalApp.secret ?? '',
          mode: paypalApp.mode ?? 'sandbox',
          webhookId: '',
        }
      : null,
    ...(password !== undefined ? { password } : {}),
  };
}

function mailsAbout(since: number): Array<{ to: string[]; text: string }> {
  return smtp.mails.slice(since).filter((m) => /PayPal/.test(m.subject));
}

async function stored(): Promise<PaymentSettings['paypal']> {
  return (await main.get<PaymentSettings>('/api/payments/settings')).body.paypal;
}

describe('PayPal credentials', () => {
  it('tells the main account when PayPal is first set up (with the password)', async () => {
    const since = smtp.mails.length;
    await setUpPayments(main);
    const mail = await smtp.waitFor(MAIN, /PayPal-Zugangsdaten/, { since });
    expect(mail.text).toContain(MAIN);
    expect(mail.text).toContain('AcmeClientId');
    expect(await stored()).toMatchObject({ clientId: 'AcmeClientId', secretHint: '…4711', mode: 'sandbox' });
  });

  it('refuses new credentials without the password or with a wrong one, and changes nothing', async () => {
    const since = smtp.mails.length;
    const before = await stored();
    const attacker = { clientId: 'AttackerApp', secret: 'attacker-secret-6666' };
    const without = await clerk.request('PUT', '/api/payments/settings', update(attacker));
    expect(without.status).toBe(400);
    const wrong = await clerk.request('PUT', '/api/payments/settings', update(attacker, 'geraten-123456'));
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: { code: 'current_password_wrong' } });
    // Another mode or removing PayPal are changes too.
    expect(
      (await clerk.request('PUT', '/api/payments/settings', update({ clientId: 'AcmeClientId', mode: 'live' }))).status,
    ).toBe(400);
    expect((await clerk.request('PUT', '/api/payments/settings', update(null))).status).toBe(400);
    expect(await stored()).toEqual(before);
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsAbout(since)).toEqual([]);
  });

  it('still saves the rest of the settings without the password when PayPal stays as it is', async () => {
    const since = smtp.mails.length;
    const res = await clerk.request<PaymentSettings>('PUT', '/api/payments/settings', {
      ...update({ clientId: 'AcmeClientId' }),
      paymentTermDays: 30,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.paymentTermDays).toBe(30);
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsAbout(since)).toEqual([]);
  });

  it("changes them with the clerk's own password and mails the main account who did it and when", async () => {
    const since = smtp.mails.length;
    const res = await clerk.request<PaymentSettings>(
      'PUT',
      '/api/payments/settings',
      update({ clientId: 'NeueApp', secret: 'neues-Secret-0042', mode: 'live' }, GOOD_PASSWORD),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.paypal).toMatchObject({ clientId: 'NeueApp', secretHint: '…0042', mode: 'live' });
    const mail = await smtp.waitFor(MAIN, /PayPal-Zugangsdaten/, { since });
    expect(mail.text).toContain(CLERK);
    expect(mail.text).toContain('NeueApp');
    expect(mail.text).toContain('Kasse & Co');
    // The day in the operator's zone, as a person reads it: "am 3. März 2026 um 14:05".
    const today = new Intl.DateTimeFormat('de-DE', { dateStyle: 'long', timeZone: 'Europe/Berlin' }).format(new Date());
    expect(mail.text).toContain(today);
    expect(mail.text).not.toContain('neues-Secret');
    // Only the main account is told; the clerk made it and knows.
    expect(mailsAbout(since).every((m) => m.to.includes(MAIN))).toBe(true);
  });
});
