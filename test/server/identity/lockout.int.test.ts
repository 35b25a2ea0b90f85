import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  // Three failures per lockout keep the test short; the rule is the same as with Keycloak's 30.
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_LOGIN_MAX_FAILURES: '3', KIS_LOGIN_LOCKOUT_STEP_SECONDS: '60' },
  });
  admin = await createFirstAdmin(server, 'admin@kis.test');
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

async function registerUser(email: string): Promise<void> {
  const client = new ApiClient(server, '192.0.2.200');
  await client.post('/api/auth/register', { email });
  const code = codeIn(await smtp.waitFor(email, /Bestätigungscode/));
  const { body } = await client.post<{ setupToken: string }>('/api/auth/verify', { purpose: 'register', email, code });
  await client.post('/api/auth/password/setup', { setupToken: body.setupToken, password: GOOD_PASSWORD });
}

describe('brute-force protection', () => {
  it('locks an account after repeated failures, tells its owner, and lets an admin unlock it', async () => {
    await registerUser('target@example.org');
    const attacker = new ApiClient(server, '192.0.2.10');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await attacker.login('target@example.org', `wrong password ${i} xx`)).status);
    expect(statuses).toEqual([401, 401, 429]);

    // Even the right password is refused while locked, from any address, with a time to wait.
    const owner = new ApiClient(server, '192.0.2.77');
    const locked = await owner.login('target@example.org', GOOD_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: { code: 'locked' } });
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(60);

    const notice = await smtp.waitFor('target@example.org', /gesperrt/);
    expect(notice.text).toContain('3 fehlgeschlagenen');

    const users = await admin.get<{ items: Array<{ id: string; email: string; lockedUntil: string | null }> }>(
      '/api/admin/users?q=target',
    );
    const target = users.body.items.find((u) => u.email === 'target@example.org');
    expect(target?.lockedUntil).not.toBeNull();
    expect((await admin.post(`/api/admin/users/${target?.id}/unlock`)).status).toBe(200);
    expect((await owner.login('target@example.org', GOOD_PASSWORD)).status).toBe(200);

    const audit = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?pageSize=100');
    const actions = audit.body.items.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'login.failed',
        'login.locked',
        'login.refused_locked',
        'admin.user_unlocked',
        'login.succeeded',
      ]),
    );
  });

  it('answers an unknown address exactly like a known one, lockout included', async () => {
    const attacker = new ApiClient(server, '192.0.2.11');
    const statuses: number[] = [];
    const bodies: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await attacker.login('ghost@example.org', `wrong password ${i} xx`);
      statuses.push(res.status);
      bodies.push((res.body as unknown as { error: { code: string } }).error.code);
    }
    expect(statuses).toEqual([401, 401, 429]);
    expect(bodies).toEqual(['invalid_credentials', 'invalid_credentials', 'locked']);
  });

  it('locks a client address that tries many accounts', async () => {
    const sprayer = new ApiClient(server, '192.0.2.12');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await sprayer.login(`victim${i}@example.org`, 'Sommer2024 passwort')).status);
    expect(statuses).toEqual([401, 401, 429]);
    expect((await sprayer.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(429);
    // Another address is not affected.
    expect((await new ApiClient(server, '192.0.2.13').login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
  });

  it('refuses non-admins the admin pages in the service, not only in the UI', async () => {
    await registerUser('customer@example.org');
    const customer = new ApiClient(server, '192.0.2.14');
    await customer.login('customer@example.org', GOOD_PASSWORD);
    for (const path of ['/api/admin/users', '/api/admin/audit', '/api/admin/outbox']) {
      const res = await customer.get(path);
      expect(res.status, path).toBe(403);
    }
    expect((await customer.post(`/api/admin/users/${'0'.repeat(24)}/unlock`)).status).toBe(403);
  });

  it('shows an admin the lockouts in force, not those that ran out, and those recorded before they were marked', async () => {
    await registerUser('expired@example.org');
    await registerUser('earlier@example.org');
    const attacker = new ApiClient(server, '192.0.2.15');
    for (let i = 0; i < 3; i++) await attacker.login('expired@example.org', `wrong password ${i} xx`);
    const lockedOf = async (email: string): Promise<string | null | undefined> => {
      const res = await admin.get<{ items: Array<{ email: string; lockedUntil: string | null }> }>(
        `/api/admin/users?q=${encodeURIComponent(email)}`,
      );
      expect(res.status).toBe(200);
      return res.body.items.find((u) => u.email === email)?.lockedUntil;
    };
    expect(await lockedOf('expired@example.org')).not.toBeNull();

    const mongo = await MongoClient.connect(server.mongoUri);
    try {
      const throttles = mongo.db().collection('throttles');
      // The lockout runs out (its end moved into the past, as time would).
      await throttles.updateOne(
        { key: 'login:expired@example.org' },
        { $set: { lockedUntil: new Date(Date.now() - 1000) } },
      );
      expect(await lockedOf('expired@example.org')).toBeNull();
      expect(await throttles.countDocuments({ key: 'login:expired@example.org', locked: true })).toBe(0);
      // The owner can log in again.
      expect((await new ApiClient(server, '192.0.2.16').login('expired@example.org', GOOD_PASSWORD)).status).toBe(200);

      // A lockout written by the version before the mark: found after the next start.
      const until = new Date(Date.now() + 3_600_000);
      await throttles.insertOne({ key: 'login:earlier@example.org', failures: 3, lockouts: 1, lockedUntil: until });
      await mongo
        .db()
        .collection('schema_migrations')
        .deleteOne({ _id: '2026-12-throttle-locked-mark' as never });
      const again = await startServer({ env: { SMTP_URL: smtp.url, MONGODB_URI: server.mongoUri } });
      try {
        const operator = new ApiClient(again);
        expect((await operator.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
        const res = await operator.get<{ items: Array<{ email: string; lockedUntil: string | null }> }>(
          '/api/admin/users?q=earlier',
        );
        expect(res.body.items.find((u) => u.email === 'earlier@example.org')?.lockedUntil).toBe(until.toISOString());
      } finally {
        await again.stop();
      }
    } finally {
      await mongo.close();
    }
  });
});
