import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { customer, makeOrganization, nextIp, type Org } from '../helpers/organizations.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * What naming an address that already has an account does (issue 20, low): registering it must
 * not cost its owner anything, and creating a sub-account for it answers like any other address.
 */
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

describe('registering an address that has an account', () => {
  it("neither cancels the owner's reset code nor uses up their resets", async () => {
    const owner = 'besitzerin@kunde.example';
    await customer(server, smtp, owner);
    const since = smtp.mails.length;
    const ownerClient = new ApiClient(server, nextIp());
    await ownerClient.post('/api/auth/password/forgot', { email: owner });
    const code = codeIn(await smtp.waitFor(owner, /zurücksetzen/, { since }));

    // A stranger registers the address again and again.
    for (let i = 0; i < 8; i++) await new ApiClient(server, nextIp()).post('/api/auth/register', { email: owner });
    await smtp.waitFor(owner, /bereits ein Konto/, { since });
    await new Promise((r) => setTimeout(r, 300));
    // The owner hears of it, but not eight times.
    const notices = smtp.mails.slice(since).filter((m) => m.to.includes(owner) && /bereits ein Konto/.test(m.subject));
    expect(notices.length).toBeLessThanOrEqual(5);

    // The code the owner is about to type still works …
    const verified = await ownerClient.post<{ setupToken: string }>('/api/auth/verify', {
      purpose: 'reset',
      email: owner,
      code,
    });
    expect(verified.status).toBe(200);
    expect(
      (
        await ownerClient.post('/api/auth/password/setup', {
          setupToken: verified.body.setupToken,
          password: `${GOOD_PASSWORD} neu`,
        })
      ).status,
    ).toBe(200);
    // … and a new reset can still be asked for.
    const before = smtp.mails.length;
    await ownerClient.post('/api/auth/password/forgot', { email: owner });
    await smtp.waitFor(owner, /zurücksetzen/, { since: before });
  });
});

describe('creating a sub-account for an address that has an account', () => {
  let firma: { org: Org; main: ApiClient };

  beforeAll(async () => {
    firma = await makeOrganization(server, smtp, admin, 'Firma GmbH', 'chef@firma.example');
    await customer(server, smtp, 'vorhanden@privat.example');
  });

  it('answers exactly like for a new address, and tells only the owner', async () => {
    const since = smtp.mails.length;
    const create = (email: string) =>
      firma.main.post(`/api/organizations/${firma.org.id}/sub-accounts`, { email, rights: ['read_areas'] });
    const known = await create('vorhanden@privat.example');
    const unknown = await create('neu@privat.example');
    expect([known.status, known.body]).toEqual([unknown.status, unknown.body]);
    expect(known.body).toEqual({ status: 'invited' });
    // The owner learns that a company wanted the address; their account stays as it was.
    const notice = await smtp.waitFor('vorhanden@privat.example', /Firma GmbH/, { since });
    expect(notice.text).toContain('nichts geändert');
    const owner = new ApiClient(server, nextIp());
    expect((await owner.login('vorhanden@privat.example', GOOD_PASSWORD)).status).toBe(200);
    const session = await owner.get<{ user: { organizationId: string | null } }>('/api/auth/session');
    expect(session.body.user.organizationId).toBeNull();
    // Operators, who may know, hear that the address is taken.
    const byAdmin = await admin.post<{ error: { code: string } }>(`/api/organizations/${firma.org.id}/sub-accounts`, {
      email: 'vorhanden@privat.example',
      rights: [],
    });
    expect([byAdmin.status, byAdmin.body.error.code]).toEqual([409, 'email_taken']);
  });
});
