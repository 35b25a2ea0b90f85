import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AreaSummary, InfoList } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { download } from '../helpers/areas.js';
import { jsonOf, unzip } from '../helpers/zip.js';
import {
  acceptInvitation,
  createSubAccount,
  customer,
  makeOrganization,
  nextIp,
  type Org,
} from '../helpers/organizations.js';
import { addCustomer, issueInvoice, setUpPayments } from '../helpers/payments.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { codeIn, linkTokenIn, startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * The address-takeover hole (issue 20, high): a company's main account must not get hold of an
 * address it does not control, nor read or erase another company's data through one.
 */
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;
let alpha: { org: Org; main: ApiClient };
let beta: { org: Org; main: ApiClient };

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
  alpha = await makeOrganization(server, smtp, admin, 'Alpha GmbH', 'chef@alpha-firma.example');
  beta = await makeOrganization(server, smtp, admin, 'Beta AG', 'chef@beta-firma.example');
  for (const [org, domain] of [
    [alpha.org, 'alpha-firma.example'],
    [beta.org, 'beta-firma.example'],
  ] as const)
    expect((await admin.post(`/api/admin/organizations/${org.id}/domains`, { domain })).status).toBe(200);
  await admin.post('/api/information', {
    scope: 'domain',
    domain: 'beta-firma.example',
    title: 'Nur für Beta',
    body: 'Tresorcode der Beta AG',
  });
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

/** Mails that arrived since `since` to `to`. */
const mailsTo = (to: string, since = 0) => smtp.mails.slice(since).filter((m) => m.to.includes(to));

async function members(
  main: ApiClient,
  org: Org,
): Promise<Array<{ id: string; email: string; redirectToMain: boolean }>> {
  return (
    await main.get<{ members: Array<{ id: string; email: string; redirectToMain: boolean }> }>(
      `/api/organizations/${org.id}`,
    )
  ).body.members;
}

describe('redirecting mail to the main account', () => {
  it("refuses to redirect a stranger's address, so its invitation never reaches the main account", async () => {
    const since = smtp.mails.length;
    for (const email of ['spion@beta-firma.example', 'opfer@gmail.com', 'anna+x@andere.example']) {
      const res = await alpha.main.post<{ error: { code: string } }>(
        `/api/organizations/${alpha.org.id}/sub-accounts`,
        {
          email,
          rights: ['read_areas'],
          redirectToMain: true,
        },
      );
      expect([res.status, res.body.error?.code], email).toEqual([400, 'redirect_not_allowed']);
    }
    expect((await members(alpha.main, alpha.org)).map((m) => m.email)).not.toContain('spion@beta-firma.example');

    // Without the redirect the account may be made, but its invitation goes to the address itself …
    const spyId = await createSubAccount(alpha.main, alpha.org.id, {
      email: 'spion@beta-firma.example',
      rights: ['read_areas'],
    });
    await smtp.waitFor('spion@beta-firma.example', /Einladung/, { since });
    expect(mailsTo('chef@alpha-firma.example', since)).toEqual([]);
    // … and the redirect cannot be switched on later to catch a reset.
    const later = await alpha.main.request<{ error: { code: string } }>('PATCH', `/api/sub-accounts/${spyId}`, {
      redirectToMain: true,
    });
    expect([later.status, later.body.error?.code]).toEqual([400, 'redirect_not_allowed']);
    await new ApiClient(server, nextIp()).post('/api/auth/password/forgot', { email: 'spion@beta-firma.example' });
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo('chef@alpha-firma.example', since)).toEqual([]);
  });

  it("redirects plus-addresses of the company's proven addresses and addresses at its own domain", async () => {
    const since = smtp.mails.length;
    for (const email of ['chef+lager@alpha-firma.example', 'empfang@alpha-firma.example'])
      await createSubAccount(alpha.main, alpha.org.id, { email, rights: ['read_areas'], redirectToMain: true });
    const list = await members(alpha.main, alpha.org);
    expect(
      list
        .filter((m) => m.redirectToMain)
        .map((m) => m.email)
        .sort(),
    ).toEqual(['chef+lager@alpha-firma.example', 'empfang@alpha-firma.example']);
    // Even then the invitation goes to the address itself: only that mailbox can accept it.
    await smtp.waitFor('chef+lager@alpha-firma.example', /Einladung/, { since });
    await smtp.waitFor('empfang@alpha-firma.example', /Einladung/, { since });
    expect(mailsTo('chef@alpha-firma.example', since)).toEqual([]);
    const lager = await acceptInvitation(server, smtp, 'chef+lager@alpha-firma.example');
    expect((await lager.get('/api/account')).body).toMatchObject({ email: 'chef+lager@alpha-firma.example' });
  });
});

describe('company information (area 2)', () => {
  it("shows an account of one company nothing of another company's area, even at that company's domain", async () => {
    // A real person at Beta's domain who accepted Alpha's invitation from their own mailbox.
    await createSubAccount(alpha.main, alpha.org.id, { email: 'berater@beta-firma.example', rights: ['read_areas'] });
    const consultant = await acceptInvitation(server, smtp, 'berater@beta-firma.example');
    expect((await consultant.get<InfoList>('/api/information?scope=domain')).body.items).toEqual([]);
    expect((await consultant.get<AreaSummary>('/api/areas/summary')).body.companyDomain).toBeNull();
    // Beta's own people read it.
    const betaArea = (await beta.main.get<InfoList>('/api/information?scope=domain')).body;
    expect(betaArea.items.map((i) => i.title)).toEqual(['Nur für Beta']);
  });
});

describe('registering at an address a company invited', () => {
  async function registerUntilPassword(email: string) {
    const client = new ApiClient(server, nextIp());
    await client.post('/api/auth/register', { email });
    const code = codeIn(await smtp.waitFor(email, /Bestätigungscode/));
    const verified = await client.post<{ setupToken: string; invitation: { organization: string } | null }>(
      '/api/auth/verify',
      { purpose: 'register', email, code },
    );
    expect(verified.status).toBe(200);
    return { client, ...verified.body };
  }

  it('asks the person to accept or refuse, and a refusal leaves the company out', async () => {
    await createSubAccount(alpha.main, alpha.org.id, { email: 'selbst@privat.example', rights: ['read_areas'] });
    const invitation = await smtp.waitFor('selbst@privat.example', /Einladung/);
    const since = smtp.mails.length;
    const { client, setupToken, invitation: asked } = await registerUntilPassword('selbst@privat.example');
    expect(asked).toEqual({ organization: 'Alpha GmbH' });

    const silent = await client.post<{ error: { code: string } }>('/api/auth/password/setup', {
      setupToken,
      password: GOOD_PASSWORD,
    });
    expect([silent.status, silent.body.error?.code]).toEqual([400, 'invitation_answer_missing']);
    const refused = await client.post('/api/auth/password/setup', {
      setupToken,
      password: GOOD_PASSWORD,
      invitation: 'refuse',
    });
    expect(refused.status).toBe(200);
    expect((await client.login('selbst@privat.example', GOOD_PASSWORD)).status).toBe(200);
    const session = await client.get<{ user: { organizationId: string | null; accountType: string | null } }>(
      '/api/auth/session',
    );
    expect(session.body.user).toMatchObject({ organizationId: null, accountType: null });
    expect((await members(alpha.main, alpha.org)).map((m) => m.email)).not.toContain('selbst@privat.example');
    // The main account hears of it; the old invitation link is dead.
    await smtp.waitFor('chef@alpha-firma.example', /Einladung abgelehnt/, { since });
    const stale = await new ApiClient(server, nextIp()).post('/api/auth/verify', { token: linkTokenIn(invitation) });
    expect(stale.status).toBe(400);
  });

  it('lets the person accept and join as the sub-account the company prepared', async () => {
    await createSubAccount(alpha.main, alpha.org.id, { email: 'ja@privat.example', rights: ['read_areas'] });
    const { client, setupToken, invitation } = await registerUntilPassword('ja@privat.example');
    expect(invitation).toEqual({ organization: 'Alpha GmbH' });
    await client.post('/api/auth/password/setup', { setupToken, password: GOOD_PASSWORD, invitation: 'accept' });
    expect((await client.login('ja@privat.example', GOOD_PASSWORD)).status).toBe(200);
    const session = await client.get<{ user: { organizationId: string | null; accountType: string } }>(
      '/api/auth/session',
    );
    expect(session.body.user).toMatchObject({ organizationId: alpha.org.id, accountType: 'sub' });
  });

  it('asks nothing of a person nobody invited', async () => {
    const { invitation } = await registerUntilPassword('frei@privat.example');
    expect(invitation).toBeNull();
  });
});

describe("other companies' records of an address", () => {
  const PERSON = 'kunde@zweiseitig.example';
  let person: ApiClient;

  beforeAll(async () => {
    // Beta bills the address; the account holding it was never proven (an account from before
    // addresses were proven, as an older data directory holds it).
    await setUpPayments(beta.main);
    await issueInvoice(beta.main, (await addCustomer(beta.main, { email: PERSON, name: 'Kunde Zwei' })).id);
    person = await customer(server, smtp, PERSON);
    const mongo = new MongoClient(server.mongoUri);
    try {
      await mongo.connect();
      await mongo
        .db()
        .collection('users')
        .updateOne({ emailLower: PERSON }, { $unset: { emailVerifiedAt: 1 } });
    } finally {
      await mongo.close();
    }
  });

  it("leaves another company's customer records and invoices out of the data export of an unproven address", async () => {
    const got = await download(person, '/api/account/export');
    expect(got.status).toBe(200);
    const files = await unzip(got.bytes);
    expect(jsonOf(files, 'konto.json')).toMatchObject({ account: { email: PERSON } });
    expect(jsonOf(files, 'rechnungen.json')).toEqual({ customerRecords: [], invoices: [] });
  });

  it("keeps another company's records when an unproven account erases itself", async () => {
    // No open invoice holds the erasure back: it runs at once.
    const invoices = await beta.main.get<{ items: Array<{ id: string; customer: { email: string } }> }>(
      '/api/invoices',
    );
    const invoice = invoices.body.items.find((i) => i.customer.email === PERSON);
    expect((await beta.main.post(`/api/invoices/${invoice?.id}/cancel`)).status).toBe(200);
    const erased = await person.post<{ state: string }>('/api/account/erase', {
      password: GOOD_PASSWORD,
      reason: 'self',
    });
    expect([erased.status, erased.body.state]).toEqual([200, 'done']);
    const customers = await beta.main.get<{ items: Array<{ email: string }> }>('/api/payments/customers');
    expect(customers.body.items.map((c) => c.email)).toContain(PERSON);
    const after = await beta.main.get<{ items: Array<{ id: string; customer: { email: string } }> }>(
      `/api/invoices/${invoice?.id}`,
    );
    expect(after.body).toMatchObject({ customer: { email: PERSON } });
  });
});
