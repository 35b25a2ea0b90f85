import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import {
  acceptInvitation as acceptInvitationOf,
  createSubAccount,
  customer as customerOf,
  makeOrganization as makeOrganizationOf,
  type Org,
} from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

interface Member {
  id: string;
  email: string;
  rights: string[];
  status: string;
}

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server, 'admin@kis.test');
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

const customer = (email: string): Promise<ApiClient> => customerOf(server, smtp, email);
const acceptInvitation = (forEmail: string): Promise<ApiClient> => acceptInvitationOf(server, smtp, forEmail);
const makeOrganization = (name: string, mainEmail: string): Promise<{ org: Org; main: ApiClient }> =>
  makeOrganizationOf(server, smtp, admin, name, mainEmail);

describe('organizations and sub-accounts', () => {
  let acme: { org: Org; main: ApiClient };
  let other: { org: Org; main: ApiClient };
  let sales: ApiClient;
  let salesId: string;
  let otherSubId: string;

  beforeAll(async () => {
    acme = await makeOrganization('Acme GmbH', 'chefin@acme.example');
    other = await makeOrganization('Andere AG', 'boss@andere.example');
  });

  it('refuses a plus-address as a main account', async () => {
    await customer('info+chef@plus.example');
    const res = await admin.post('/api/admin/organizations', { name: 'Plus KG', mainEmail: 'info+chef@plus.example' });
    expect(res.body).toMatchObject({ error: { code: 'main_account_plus_address' } });
  });

  it('lets the main account create a plus-address sub-account whose mail goes to the main account', async () => {
    salesId = await createSubAccount(acme.main, acme.org.id, {
      email: 'chefin+vertrieb@acme.example',
      name: 'Vertrieb',
      rights: ['read_areas'],
      redirectToMain: true,
    });
    const detail = await acme.main.get<{ members: Member[] }>(`/api/organizations/${acme.org.id}`);
    expect(detail.body.members.find((m) => m.id === salesId)).toMatchObject({
      status: 'pending',
      rights: ['read_areas'],
      redirectToMain: true,
    });

    // The invitation goes to the address itself (a plus-address lands in the main mailbox anyway):
    // using it is what proves the address.
    sales = await acceptInvitation('chefin+vertrieb@acme.example');
    expect((await sales.get('/api/account')).body).toMatchObject({ email: 'chefin+vertrieb@acme.example' });

    // So does every later mail of the sub-account.
    const since = smtp.mails.length;
    await new ApiClient(server, '192.0.2.250').post('/api/auth/password/forgot', {
      email: 'chefin+vertrieb@acme.example',
    });
    const reset = await smtp.waitFor('chefin@acme.example', /zurücksetzen/, { since });
    expect(reset.text).toContain('Unterkonto chefin+vertrieb@acme.example');
    expect(smtp.mails.slice(since).some((m) => m.to.includes('chefin+vertrieb@acme.example'))).toBe(false);
  });

  it('sends a sub-account with its own address its own invitation', async () => {
    otherSubId = await createSubAccount(other.main, other.org.id, {
      email: 'lager@andere.example',
      rights: ['see_depots'],
    });
    await acceptInvitation('lager@andere.example');
  });

  it('asks for the password again before rights change, and applies them to live sessions', async () => {
    const withoutPassword = await acme.main.request('PATCH', `/api/sub-accounts/${salesId}`, {
      rights: ['read_areas', 'manage_files'],
    });
    expect(withoutPassword.body).toMatchObject({ error: { code: 'current_password_wrong' } });
    const changed = await acme.main.request<Member>('PATCH', `/api/sub-accounts/${salesId}`, {
      rights: ['read_areas', 'manage_files'],
      password: GOOD_PASSWORD,
    });
    expect(changed.body.rights).toEqual(['read_areas', 'manage_files']);
    const detail = await acme.main.get<{ members: Member[] }>(`/api/organizations/${acme.org.id}`);
    expect(detail.body.members.map((m) => m.email).sort()).toEqual([
      'chefin+vertrieb@acme.example',
      'chefin@acme.example',
    ]);
  });

  it('keeps a sub-account from managing accounts, whatever rights it has', async () => {
    expect(
      (await sales.post(`/api/organizations/${acme.org.id}/sub-accounts`, { email: 'x@acme.example', rights: [] }))
        .status,
    ).toBe(403);
    expect((await sales.request('PATCH', `/api/sub-accounts/${salesId}`, { name: 'Ich' })).status).toBe(403);
    expect((await sales.get(`/api/organizations/${acme.org.id}`)).status).toBe(404);
  });

  it("keeps a main account out of another organization's accounts on every route", async () => {
    const main = acme.main;
    const otherOrg = other.org.id;
    const attempts = [
      await main.get(`/api/organizations/${otherOrg}`),
      await main.post(`/api/organizations/${otherOrg}/sub-accounts`, { email: 'spy@andere.example', rights: [] }),
      await main.request('PATCH', `/api/sub-accounts/${otherSubId}`, { name: 'übernommen' }),
      await main.request('PATCH', `/api/sub-accounts/${otherSubId}`, { status: 'disabled' }),
      await main.request('PUT', `/api/sub-accounts/${otherSubId}/ip-ranges`, {
        ranges: ['10.0.0.0/8'],
        password: GOOD_PASSWORD,
      }),
      await main.request('PUT', `/api/admin/users/${otherSubId}/ip-ranges`, {
        ranges: ['10.0.0.0/8'],
        password: GOOD_PASSWORD,
      }),
      await main.request('DELETE', `/api/sub-accounts/${otherSubId}`),
      await main.get('/api/admin/organizations'),
      await main.post('/api/admin/organizations', { name: 'Fremd', mainEmail: 'lager@andere.example' }),
      await main.post(`/api/admin/organizations/${otherOrg}/domains`, { domain: 'andere.example' }),
      await main.get('/api/admin/users'),
      await main.post(`/api/admin/users/${otherSubId}/unlock`),
    ];
    expect(attempts.map((r) => r.status)).toEqual([404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403]);
    // Nothing changed over there.
    const detail = await other.main.get<{ members: Member[] }>(`/api/organizations/${otherOrg}`);
    expect(detail.body.members.find((m) => m.id === otherSubId)).toMatchObject({ status: 'active' });
  });

  it('lets the main account restrict, disable and delete its own sub-account', async () => {
    const ranges = await acme.main.request<{ allowedIpRanges: string[] }>(
      'PUT',
      `/api/sub-accounts/${salesId}/ip-ranges`,
      {
        ranges: [`${sales.ip}/32`],
        password: GOOD_PASSWORD,
      },
    );
    expect(ranges.body, JSON.stringify(ranges.body)).toMatchObject({ allowedIpRanges: [`${sales.ip}/32`] });
    expect((await sales.get('/api/account')).status).toBe(200);

    expect((await acme.main.request('PATCH', `/api/sub-accounts/${salesId}`, { status: 'disabled' })).status).toBe(200);
    expect((await sales.get('/api/account')).status).toBe(401);
    expect((await sales.login('chefin+vertrieb@acme.example', GOOD_PASSWORD)).status).toBe(401); // like a wrong password (issue 20)

    expect((await acme.main.request('DELETE', `/api/sub-accounts/${salesId}`)).status).toBe(200);
    expect((await sales.login('chefin+vertrieb@acme.example', GOOD_PASSWORD)).status).toBe(401);
  });

  it('records confirmed domains, each for one organization only', async () => {
    const confirmed = await admin.post<{ domains: Array<{ domain: string }> }>(
      `/api/admin/organizations/${acme.org.id}/domains`,
      { domain: 'Acme.example' },
    );
    expect(confirmed.body.domains.map((d) => d.domain)).toEqual(['acme.example']);
    const taken = await admin.post(`/api/admin/organizations/${other.org.id}/domains`, { domain: 'acme.example' });
    // Free-mail domains never qualify: a stranger with an address there would read the company's information.
    for (const domain of ['gmail.com', 'GMX.de', '@web.de', 't-online.de', 'outlook.com']) {
      const refused = await admin.post(`/api/admin/organizations/${acme.org.id}/domains`, { domain });
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({ error: { code: 'domain_public' } });
    }
    expect(taken.status).toBe(409);
  });
});
