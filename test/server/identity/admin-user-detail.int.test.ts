import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserDetail } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, registerCustomer } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let customer: ApiClient;
let customerId: string;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server, 'admin@kis.test');
  customer = await registerCustomer(server, smtp, 'kunde@firma.example', '192.0.2.60');
  customerId = (await customer.get<{ id: string }>('/api/account')).body.id;
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

describe("the admin's user page", () => {
  it("shows a user's sessions, lockout state and recent audit entries", async () => {
    const { status, body } = await admin.get<UserDetail>(`/api/admin/users/${customerId}`);
    expect(status).toBe(200);
    expect(body.user).toMatchObject({ email: 'kunde@firma.example', status: 'active', lockedUntil: null });
    expect(body.sessions.map((s) => s.ip)).toContain('192.0.2.60');
    expect(body.audit.map((a) => a.action)).toEqual(expect.arrayContaining(['login.succeeded', 'register.completed']));
  });

  it('ends one session, or all of them', async () => {
    const second = new ApiClient(server, '192.0.2.61');
    await second.login('kunde@firma.example', GOOD_PASSWORD);
    const detail = await admin.get<UserDetail>(`/api/admin/users/${customerId}`);
    const target = detail.body.sessions.find((s) => s.ip === '192.0.2.61');
    expect((await admin.request('DELETE', `/api/admin/users/${customerId}/sessions/${target?.id}`)).status).toBe(200);
    expect((await second.get('/api/account')).status).toBe(401);
    expect((await customer.get('/api/account')).status).toBe(200);

    expect((await admin.post<{ ended: number }>(`/api/admin/users/${customerId}/sessions/end-all`)).body.ended).toBe(1);
    expect((await customer.get('/api/account')).status).toBe(401);
  });

  it('disables an account at once and enables it again, but never its own', async () => {
    await customer.login('kunde@firma.example', GOOD_PASSWORD);
    expect((await admin.request('PUT', `/api/admin/users/${customerId}/status`, { status: 'disabled' })).status).toBe(
      200,
    );
    expect((await customer.get('/api/account')).status).toBe(401);
    // Answered like a wrong password: the status of an account is not told to whoever has its password.
    expect((await customer.login('kunde@firma.example', GOOD_PASSWORD)).body).toMatchObject({
      error: { code: 'invalid_credentials' },
    });

    expect((await admin.request('PUT', `/api/admin/users/${customerId}/status`, { status: 'active' })).status).toBe(
      200,
    );
    expect((await customer.login('kunde@firma.example', GOOD_PASSWORD)).status).toBe(200);

    const self = (await admin.get<{ id: string }>('/api/account')).body.id;
    expect((await admin.request('PUT', `/api/admin/users/${self}/status`, { status: 'disabled' })).status).toBe(403);
  });

  it('is closed to customers', async () => {
    expect((await customer.get(`/api/admin/users/${customerId}`)).status).toBe(403);
    expect((await customer.post(`/api/admin/users/${customerId}/sessions/end-all`)).status).toBe(403);
  });
});
