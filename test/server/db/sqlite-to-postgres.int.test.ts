import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dbStateFile, type DbState } from '../../../server/src/db/provision.js';
import { MIGRATED_SQLITE_DIR } from '../../../server/src/db/sqlite-to-postgres.js';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { download, upload } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { startServer, type TestServer } from '../../helpers/server.js';

const dirs: string[] = [];
const servers: TestServer[] = [];
afterAll(async () => {
  // A failed assertion must not leave a server (and its database) running after the test.
  for (const server of servers) await server.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function started(server: Promise<TestServer>): Promise<TestServer> {
  servers.push(await server);
  return servers.at(-1) as TestServer;
}

interface HistoryPage {
  items: Array<{ kind: string; at: string }>;
}

describe('moving an existing data directory from SQLite to PostgreSQL', () => {
  it('carries accounts, depots, history and files over on start and keeps the SQLite files', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-move-'));
    dirs.push(dataDir);

    // A data directory as KIS wrote it before it ran FerretDB on PostgreSQL.
    const before = await started(startServer({ embedded: true, dataDir, env: { KIS_DB_ENGINE: 'ferretdb-sqlite' } }));
    const admin = await createFirstAdmin(before);
    const { depot } = await registerDepot(admin, { name: 'Depot Süd' });
    const bytes = randomBytes(1024 * 1024 + 17);
    const sent = await upload<{ id: string }>(admin, '/api/files?name=Übergabe.bin', bytes);
    expect(sent.status).toBe(200);
    for (const text of ['Schlüssel an Frau Öztürk übergeben', 'Tür klemmt']) {
      expect((await admin.post(`/api/depots/${depot.depotId}/history`, { kind: 'note', text })).status).toBe(200);
    }
    const history = (await admin.get<HistoryPage>(`/api/depots/${depot.depotId}/history`)).body.items;
    expect(history).toHaveLength(2);
    expect(await before.stop()).toBe(0);
    expect((await readdir(path.join(dataDir, 'db', 'ferretdb'))).some((f) => f.endsWith('.sqlite'))).toBe(true);

    const after = await started(
      startServer({ embedded: true, dataDir, env: { KIS_DB_ENGINE: 'ferretdb-postgresql' } }),
    );
    try {
      const state = JSON.parse(await readFile(dbStateFile(dataDir), 'utf8')) as DbState;
      expect(state.backend).toBe('postgresql');
      expect(after.logs.some((l) => /moving the data in .* into PostgreSQL/.test(String(l.msg)))).toBe(true);

      const again = new ApiClient(after, '198.51.100.1');
      expect((await again.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
      const depots = await again.get<{ items: Array<{ id: string; name: string }> }>('/api/depots');
      expect(depots.body.items.map((d) => d.name)).toContain('Depot Süd');
      const moved = (await again.get<HistoryPage>(`/api/depots/${depot.depotId}/history`)).body.items;
      expect(moved).toEqual(history);
      const got = await download(again, `/api/files/${sent.body.id}`);
      expect(got.status).toBe(200);
      expect(got.bytes.equals(bytes)).toBe(true);

      // Nothing deleted: the SQLite files wait beside the new cluster.
      expect(existsSync(path.join(dataDir, 'db', 'ferretdb'))).toBe(false);
      const kept = await readdir(path.join(dataDir, 'db', MIGRATED_SQLITE_DIR));
      expect(kept.some((f) => f.endsWith('.sqlite'))).toBe(true);
    } finally {
      expect(await after.stop()).toBe(0);
    }

    // The next start finds the data in PostgreSQL and moves nothing again.
    const third = await started(
      startServer({ embedded: true, dataDir, env: { KIS_DB_ENGINE: 'ferretdb-postgresql' } }),
    );
    try {
      expect(third.logs.some((l) => /moving the data/.test(String(l.msg)))).toBe(false);
      const client = new ApiClient(third, '198.51.100.1');
      expect((await client.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
      expect((await client.get<HistoryPage>(`/api/depots/${depot.depotId}/history`)).body.items).toEqual(history);
    } finally {
      await third.stop();
    }
  });

  it('refuses to start on SQLite over data that lives in PostgreSQL', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-move-'));
    dirs.push(dataDir);
    const first = await started(
      startServer({ embedded: true, dataDir, env: { KIS_DB_ENGINE: 'ferretdb-postgresql' } }),
    );
    await createFirstAdmin(first);
    expect(await first.stop()).toBe(0);
    await expect(startServer({ embedded: true, dataDir, env: { KIS_DB_ENGINE: 'ferretdb-sqlite' } })).rejects.toThrow(
      /needs PostgreSQL \d+/,
    );
  });
});
