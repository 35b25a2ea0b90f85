import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { OperatorOverview } from '@kis/protocol/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, createFirstAdmin, registerCustomer } from '../../helpers/api.js';
import { ROOT, eventually, startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const run = promisify(execFile);

let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;
let customer: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  // The erasure job looks only once an hour, so a request waits.
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_ERASURE_CHECK_SECONDS: '3600', KIS_BACKUP_TIME: '02:15' },
  });
  admin = await createFirstAdmin(server);
  customer = await registerCustomer(server, smtp, 'kunde@firma.example', '198.51.100.9');
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

async function overview(): Promise<OperatorOverview> {
  const res = await admin.get<OperatorOverview>('/api/admin/overview');
  expect(res.status).toBe(200);
  return res.body;
}

describe("the operator's overview", () => {
  it('is for operators only', async () => {
    expect((await new ApiClient(server, '198.51.100.7').get('/api/admin/overview')).status).toBe(401);
    const res = await customer.get('/api/admin/overview');
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).not.toContain('kunde@firma.example');
  });

  it('counts what waits for an operator, and ticks off the first steps as they are done', async () => {
    const before = await overview();
    expect(before.checklist).toEqual({ mail: true, depot: false, domains: false });
    expect(before.depots).toEqual({ total: 0, online: 0, offline: 0, alarms: 0, disabled: 0 });
    expect(before.backup).toEqual({ schedule: '02:15', last: null, failedAt: null });

    // The mail server goes away; then two registrations: their code mails wait in the outbox,
    // failing, and the accounts are not verified yet.
    await smtp.close();
    const visitor = new ApiClient(server, '198.51.100.8');
    for (const email of ['neu1@kunde.example', 'neu2@kunde.example'])
      expect((await visitor.post('/api/auth/register', { email })).status).toBe(202);
    // A depot, then one switched off.
    const first = await admin.post<{ provisioning: { depotId: string } }>('/api/depots', {
      name: 'Lager',
      compartments: 2,
    });
    expect(first.status).toBe(200);
    expect((await admin.post('/api/depots', { name: 'Alt', compartments: 2 })).status).toBe(200);
    // An erasure that waits: the customer holds a PIN valid for another day.
    const pin = await admin.post(`/api/depots/${first.body.provisioning.depotId}/pins`, {
      comp: 1,
      label: 'Kunde',
      validUntil: new Date(Date.now() + 24 * 3600_000).toISOString(),
      holderEmail: 'kunde@firma.example',
    });
    expect(pin.status).toBe(200);
    expect((await admin.post('/api/admin/erasures', { emails: ['kunde@firma.example'] })).status).toBe(200);
    const list = await admin.get<{ items: Array<{ depotId: string; name: string }> }>('/api/depots');
    const old = list.body.items.find((d) => d.name === 'Alt');
    expect((await admin.post(`/api/depots/${old?.depotId}/status`, { status: 'disabled' })).status).toBe(200);

    await eventually(async () => (await overview()).outbox.failing >= 2, 30_000, 'both mails failed once');
    const after = await overview();
    expect(after.registrations.lastWeek - before.registrations.lastWeek).toBe(2);
    expect(after.registrations.unverified - before.registrations.unverified).toBe(2);
    expect(after.outbox.waiting - before.outbox.waiting).toBeGreaterThanOrEqual(2);
    // It waits, and is not due before the PIN runs out.
    expect(after.erasures).toEqual({ waiting: 1, due: 0 });
    expect(after.depots).toEqual({ total: 2, online: 0, offline: 1, alarms: 0, disabled: 1 });
    expect(after.checklist).toEqual({ mail: true, depot: true, domains: false });
  });

  it('names the newest backup once one is written', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('KIS_') && k !== 'MONGODB_URI'),
    );
    await run(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'scripts/kis.ts'), 'backup'], {
      cwd: ROOT,
      env: { ...env, MONGODB_URI: server.mongoUri, KIS_DATA_DIR: server.dataDir },
    });
    const { backup } = await overview();
    expect(backup.last?.file).toMatch(/^kis-backup-.*\.kisbak$/);
    expect(Date.now() - Date.parse(backup.last?.at ?? '')).toBeLessThan(120_000);
  });
});
