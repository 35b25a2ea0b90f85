import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, registerCustomer } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  await createFirstAdmin(server, 'admin@kis.test');
  await registerCustomer(server, smtp, 'anna@firma.example', '192.0.2.40');
  await registerCustomer(server, smtp, 'bert@andere.example', '192.0.2.41');
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

interface IdentityList {
  items: Array<{ slot: number; user: { email: string }; csrfToken: string }>;
  max: number;
}

describe('several identities in one browser', () => {
  it('keeps one session per identity, each seeing its own data, and signs out one alone', async () => {
    const browser = new ApiClient(server, '192.0.2.50');
    browser.identity = 0;
    await browser.login('anna@firma.example', GOOD_PASSWORD);
    browser.identity = 1;
    await browser.login('bert@andere.example', GOOD_PASSWORD);
    expect([...browser.cookies.keys()].sort()).toEqual(['kis_session', 'kis_session_1']);

    const list = await browser.get<IdentityList>('/api/auth/identities');
    expect(list.body.items.map((i) => [i.slot, i.user.email])).toEqual([
      [0, 'anna@firma.example'],
      [1, 'bert@andere.example'],
    ]);
    const tokens = new Map(list.body.items.map((i) => [i.slot, i.csrfToken]));

    browser.identity = 0;
    expect((await browser.get<{ email: string }>('/api/account')).body.email).toBe('anna@firma.example');
    browser.identity = 1;
    expect((await browser.get<{ email: string }>('/api/account')).body.email).toBe('bert@andere.example');

    // One identity's CSRF token does not work for the other.
    browser.identity = 1;
    browser.csrfToken = tokens.get(0);
    expect((await browser.request('PATCH', '/api/account', { name: 'Bert' })).body).toMatchObject({
      error: { code: 'csrf_invalid' },
    });
    browser.csrfToken = tokens.get(1);
    expect((await browser.request('PATCH', '/api/account', { name: 'Bert' })).status).toBe(200);

    // Signing out of Bert leaves Anna.
    expect((await browser.post('/api/auth/logout')).status).toBe(200);
    expect((await browser.get('/api/account')).status).toBe(401);
    browser.identity = 0;
    expect((await browser.get<{ email: string }>('/api/account')).body.email).toBe('anna@firma.example');
    const after = await browser.get<IdentityList>('/api/auth/identities');
    expect(after.body.items.map((i) => i.user.email)).toEqual(['anna@firma.example']);
  });

  it('refuses an identity slot out of range', async () => {
    const browser = new ApiClient(server, '192.0.2.51');
    browser.identity = 7;
    const res = await browser.login('anna@firma.example', GOOD_PASSWORD);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'identity_invalid' } });
  });
});
