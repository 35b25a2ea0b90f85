import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PayView } from '@kis/protocol/api';
import type { PayPalStandIn } from '../../scripts/paypal-standin/server.js';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { acceptInvitation, customer, makeOrganization, nextIp } from '../helpers/organizations.js';
import { addCustomer, issueInvoice, setUpPayments, startServerWithPayPal, tokenOf } from '../helpers/payments.js';
import type { TestServer } from '../helpers/server.js';
import { codeIn, linkTokenIn, type ReceivedMail, type TestSmtp } from '../helpers/smtp.js';

/**
 * Issue 20, finding "one-time secrets readable in the outbox": whoever reads the outbox (an
 * operator on its page, or anyone with a copy of the database or a backup) must not find the codes
 * and links that let someone register, reset a password, join a company, change an address, revoke
 * consent or pay. The mail that actually leaves carries them, and they work.
 */

let paypal: PayPalStandIn;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  ({ paypal, smtp, server } = await startServerWithPayPal());
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
});

interface OutboxPage {
  items: Array<{ to: string; subject: string; text: string; kind: string }>;
}

/** The raw outbox documents to an address, straight from the database. */
async function storedMails(to: string): Promise<Array<Record<string, unknown>>> {
  const mongo = new MongoClient(server.mongoUri);
  try {
    await mongo.connect();
    return await mongo.db().collection('outbox').find({ to }).toArray();
  } finally {
    await mongo.close();
  }
}

/** True when `secret` stands in `text` as a whole (not as part of a longer token). */
function shows(text: string, secret: string): boolean {
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![A-Za-z0-9_-])${escaped}(?![A-Za-z0-9_-])`).test(text);
}

/**
 * Asserts that neither the database nor the operators' outbox page shows any of the secrets of
 * the mails of one kind to an address, and that the page shows the mail with them masked.
 */
async function expectHidden(to: string, kind: string, secrets: string[]): Promise<void> {
  const raw = await storedMails(to);
  const stored = raw.filter((d) => d.kind === kind);
  expect(stored.length, `stored ${kind} mails to ${to}`).toBeGreaterThan(0);
  const page = await admin.get<OutboxPage>('/api/admin/outbox?pageSize=100');
  expect(page.status).toBe(200);
  const shown = page.body.items.filter((m) => m.to === to && m.kind === kind);
  expect(shown.length).toBeGreaterThan(0);
  for (const secret of secrets) {
    for (const doc of stored) expect(shows(JSON.stringify(doc), secret), `${kind} stored with ${secret}`).toBe(false);
    for (const mail of shown) {
      expect(shows(`${mail.subject}\n${mail.text}`, secret), `${kind} shown with ${secret}`).toBe(false);
    }
  }
  for (const mail of shown) expect(mail.text).toContain('••••••');
}

/** The link tokens of every `#token=` link in a mail. */
function linkTokens(mail: ReceivedMail): string[] {
  return [...mail.text.matchAll(/#token=([A-Za-z0-9_-]+)/g)].map((m) => m[1] ?? '');
}

describe('one-time secrets in the outbox', () => {
  it('keeps a registration code and link out of the outbox; the mailed code registers', async () => {
    const email = 'neu@kunde.example';
    const client = new ApiClient(server, nextIp());
    expect((await client.post('/api/auth/register', { email })).status).toBe(202);
    const mail = await smtp.waitFor(email, /Bestätigungscode/);
    const code = codeIn(mail);
    expect(mail.subject).toContain(code);
    await expectHidden(email, 'register_code', [code, ...linkTokens(mail)]);

    const verified = await client.post<{ setupToken: string }>('/api/auth/verify', {
      purpose: 'register',
      email,
      code,
    });
    expect(verified.status).toBe(200);
    const set = await client.post('/api/auth/password/setup', {
      setupToken: verified.body.setupToken,
      password: GOOD_PASSWORD,
    });
    expect(set.status).toBe(200);
  });

  it('keeps reset codes and links out of the outbox; they work', async () => {
    const email = 'vergesslich@kunde.example';
    await customer(server, smtp, email);
    const since = smtp.mails.length;

    // Registering again with a known address mails a notice that carries no secret at all: a plain
    // link to the reset page, so a stranger's registration starts no reset for the owner.
    await new ApiClient(server, nextIp()).post('/api/auth/register', { email });
    const known = await smtp.waitFor(email, /bereits ein Konto/, { since });
    expect(linkTokens(known)).toEqual([]);
    expect(known.text).toContain('/passwort-vergessen');

    const client = new ApiClient(server, nextIp());
    expect((await client.post('/api/auth/password/forgot', { email })).status).toBe(202);
    const reset = await smtp.waitFor(email, /Passwort zurücksetzen/, { since });
    const code = codeIn(reset);
    await expectHidden(email, 'reset_code', [code, ...linkTokens(reset)]);

    const verified = await client.post<{ setupToken: string }>('/api/auth/verify', { token: linkTokenIn(reset) });
    expect(verified.status).toBe(200);
    const set = await client.post('/api/auth/password/setup', {
      setupToken: verified.body.setupToken,
      password: `${GOOD_PASSWORD} neu`,
    });
    expect(set.status).toBe(200);
    expect((await new ApiClient(server, nextIp()).login(email, `${GOOD_PASSWORD} neu`)).status).toBe(200);
  });

  it('keeps an invitation link out of the outbox; the mailed link lets the sub-account in', async () => {
    const { org, main } = await makeOrganization(server, smtp, admin, 'Geheim GmbH', 'chefin@geheim.example');
    const created = await main.post(`/api/organizations/${org.id}/sub-accounts`, {
      email: 'lager@geheim.example',
      name: 'Lager',
      rights: [],
      redirectToMain: false,
    });
    expect(created.status).toBe(200);
    const invite = await smtp.waitFor('lager@geheim.example', /Einladung/);
    await expectHidden('lager@geheim.example', 'invite', linkTokens(invite));
    await acceptInvitation(server, smtp, 'lager@geheim.example');
  });

  it('keeps an e-mail change code out of the outbox; the mailed code changes the address', async () => {
    const user = await customer(server, smtp, 'umzug@kunde.example');
    const res = await user.post('/api/account/email', { newEmail: 'umgezogen@kunde.example', password: GOOD_PASSWORD });
    expect(res.status).toBe(202);
    const mail = await smtp.waitFor('umgezogen@kunde.example', /Neue E-Mail-Adresse/);
    const code = codeIn(mail);
    await expectHidden('umgezogen@kunde.example', 'email_change_code', [code]);
    const confirmed = await user.post<{ email: string }>('/api/account/email/confirm', { code });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.email).toBe('umgezogen@kunde.example');
  });

  it('keeps a revocation code out of the outbox', async () => {
    const email = 'widerruf@kunde.example';
    await customer(server, smtp, email);
    const since = smtp.mails.length;
    expect((await new ApiClient(server, nextIp()).post('/api/privacy/revocation', { email })).status).toBe(200);
    const mail = await smtp.waitFor(email, /Widerruf/, { since });
    await expectHidden(email, 'revocation_code', [codeIn(mail)]);
  });

  it('keeps a payment link out of the outbox; the mailed link opens the payment page', async () => {
    const { main } = await makeOrganization(server, smtp, admin, 'Autohaus Kasse', 'chef@kasse.example');
    await setUpPayments(main);
    const payerEmail = 'zahler@kunde.example';
    const { id: customerId } = await addCustomer(main, { email: payerEmail });
    const invoice = await issueInvoice(main, customerId);
    const mail = await smtp.waitFor(payerEmail, /Rechnung/);
    const token = tokenOf(/(\S+\/bezahlen\/\S+)/.exec(mail.text)?.[1] ?? null);
    expect(token).toBe(tokenOf(invoice.payUrl));
    await expectHidden(payerEmail, 'invoice_issued', [token]);
    const page = await new ApiClient(server, nextIp()).get<PayView>(`/api/pay/${token}`);
    expect(page.status).toBe(200);
  });
});
