import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { ROOT, startServer, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
let server: TestServer;

beforeAll(async () => {
  server = await startServer();
  const admin = await createFirstAdmin(server, 'admin@kis.test');
  await new ApiClient(server).login('admin@kis.test', 'not the password at all');
  await admin.request('PATCH', '/api/account', { phone: '+49 40 5555' });
  await admin.post('/api/auth/logout');
});
afterAll(async () => {
  await server.stop();
});

async function auditVerify(): Promise<{ code: number; stdout: string }> {
  const env = { ...process.env, MONGODB_URI: server.mongoUri, KIS_DATA_DIR: server.dataDir };
  try {
    const { stdout } = await run(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [path.join(ROOT, 'scripts/kis.ts'), 'audit:verify'],
      { env },
    );
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

describe('audit log', () => {
  it('records logins, failures, profile changes and logouts, and its chain verifies', async () => {
    const admin = new ApiClient(server, '198.51.100.1');
    await admin.login('admin@kis.test', GOOD_PASSWORD);
    const { body } = await admin.get<{ items: Array<{ action: string; ip: string | null }>; total: number }>(
      '/api/admin/audit?pageSize=50',
    );
    const actions = body.items.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['admin.created', 'login.succeeded', 'login.failed', 'profile.updated', 'logout']),
    );
    const filtered = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?outcome=failure');
    expect(filtered.body.items.every((e) => e.action === 'login.failed')).toBe(true);

    const report = await auditVerify();
    expect(report.code).toBe(0);
    expect(report.stdout).toMatch(/audit log intact: \d+ entries verified/);
  });

  it('fails verification after a stored entry is altered', async () => {
    const client = new MongoClient(server.mongoUri);
    try {
      await client
        .db()
        .collection('audit')
        .updateOne({ seq: 2 }, { $set: { ip: '10.0.0.1' } });
    } finally {
      await client.close();
    }
    const report = await auditVerify();
    expect(report.code).toBe(1);
    expect(report.stdout).toContain('BROKEN at entry 2');
  });
});
