import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let userId: string;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server, 'admin@kis.test');
  const client = new ApiClient(server, '192.0.2.1');
  await client.post('/api/auth/register', { email: 'office@kunde.example' });
  const code = codeIn(await smtp.waitFor('office@kunde.example'));
  const { body } = await client.post<{ setupToken: string }>('/api/auth/verify', {
    purpose: 'register',
    email: 'office@kunde.example',
    code,
  });
  await client.post('/api/auth/password/setup', { setupToken: body.setupToken, password: GOOD_PASSWORD });
  const users = await admin.get<{ items: Array<{ id: string; email: string }> }>('/api/admin/users?q=office');
  userId = users.body.items[0]?.id ?? '';
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

function setRanges(ranges: string[], password = GOOD_PASSWORD) {
  return admin.request<{ allowedIpRanges: string[]; error?: { code: string } }>(
    'PUT',
    `/api/admin/users/${userId}/ip-ranges`,
    { ranges, password },
  );
}

describe('allowed IP ranges', () => {
  it('asks the admin for the password again and rejects ranges that are not CIDR', async () => {
    expect((await setRanges(['203.0.113.0/24'], 'not my password at all')).body.error?.code).toBe(
      'current_password_wrong',
    );
    expect((await setRanges(['203.0.113.0/33'])).body.error?.code).toBe('ip_range_invalid');
    expect((await setRanges(['office network'])).body.error?.code).toBe('ip_range_invalid');
  });

  it('refuses a login from outside the ranges and records it, and admits one from inside', async () => {
    const set = await setRanges(['203.0.113.0/24', '2001:db8:abcd::/48', '198.51.100.77']);
    expect(set.status).toBe(200);
    expect(set.body.allowedIpRanges).toEqual(['203.0.113.0/24', '2001:db8:abcd::/48', '198.51.100.77/32']);

    const outside = await new ApiClient(server, '198.51.100.5').login('office@kunde.example', GOOD_PASSWORD);
    expect(outside.status).toBe(403);
    expect(outside.body).toMatchObject({ error: { code: 'ip_not_allowed' } });
    expect((await new ApiClient(server, '203.0.113.9').login('office@kunde.example', GOOD_PASSWORD)).status).toBe(200);
    expect(
      (await new ApiClient(server, '2001:db8:abcd:12::5').login('office@kunde.example', GOOD_PASSWORD)).status,
    ).toBe(200);
    expect((await new ApiClient(server, '198.51.100.77').login('office@kunde.example', GOOD_PASSWORD)).status).toBe(
      200,
    );

    const audit = await admin.get<{ items: Array<{ action: string; ip: string; actorEmail: string }> }>(
      '/api/admin/audit?action=login.ip_not_allowed',
    );
    expect(audit.body.items[0]).toMatchObject({ ip: '198.51.100.5', actorEmail: 'office@kunde.example' });
  });

  it('sets a new password from outside the ranges, but signs nobody in there', async () => {
    await setRanges(['203.0.113.0/24']);
    const outside = new ApiClient(server, '198.51.100.9');
    await outside.post('/api/auth/password/forgot', { email: 'office@kunde.example' });
    const code = codeIn(await smtp.waitFor('office@kunde.example', /Passwort/));
    const { body } = await outside.post<{ setupToken: string }>('/api/auth/verify', {
      purpose: 'reset',
      email: 'office@kunde.example',
      code,
    });
    const set = await outside.post('/api/auth/password/setup', {
      setupToken: body.setupToken,
      password: GOOD_PASSWORD,
    });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ email: 'office@kunde.example', session: null });
    expect((await outside.get('/api/account')).status).toBe(401);
    // From inside, the new password logs in.
    expect((await new ApiClient(server, '203.0.113.9').login('office@kunde.example', GOOD_PASSWORD)).status).toBe(200);
  });

  it('ends a live session at its next request when its address leaves the ranges', async () => {
    await setRanges(['203.0.113.0/24']);
    const office = new ApiClient(server, '203.0.113.10');
    await office.login('office@kunde.example', GOOD_PASSWORD);
    expect((await office.get('/api/account')).status).toBe(200);

    await setRanges(['10.20.0.0/16']);
    const refused = await office.get('/api/account');
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { code: 'ip_not_allowed' } });
    const audit = await admin.get<{ items: Array<{ action: string }> }>(
      '/api/admin/audit?action=session.ip_not_allowed',
    );
    expect(audit.body.items.length).toBeGreaterThan(0);

    // An empty list lifts the restriction.
    await setRanges([]);
    expect((await new ApiClient(server, '198.51.100.200').login('office@kunde.example', GOOD_PASSWORD)).status).toBe(
      200,
    );
  });

  it('lets only admins set ranges', async () => {
    const office = new ApiClient(server, '198.51.100.201');
    await office.login('office@kunde.example', GOOD_PASSWORD);
    const res = await office.request('PUT', `/api/admin/users/${userId}/ip-ranges`, {
      ranges: [],
      password: GOOD_PASSWORD,
    });
    expect(res.status).toBe(403);
  });
});
