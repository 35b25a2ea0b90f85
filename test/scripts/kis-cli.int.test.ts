import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { HOT_QUERIES } from '../../server/src/db/hot-queries.js';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { keysOf } from '../../server/src/identity/user-search-keys.js';
import { ROOT } from '../helpers/server.js';

const run = promisify(execFile);
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function kis(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('KIS_') && k !== 'MONGODB_URI'),
  );
  try {
    const { stdout } = await run(TSX, [path.join(ROOT, 'scripts/kis.ts'), ...args], {
      env: { ...clean, ...env },
      cwd: ROOT,
    });
    return { stdout, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; code: number };
    return { stdout: e.stdout, code: e.code };
  }
}

/** The parts of `db:status --json` the tests read. */
interface DbStatusJson {
  engine: { kind: string; product: string; version: string; backend?: string | null };
  collections: { name: string; documents: number | null; storageBytes: number; indexes: number }[];
  hotQueries: { name: string; index: boolean; plan: string; pushdown?: { filter: boolean } }[];
}

describe('npm run kis', () => {
  it('lists its commands with --help', async () => {
    const { stdout, code } = await kis(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/db:status\s+Show which database server/);
  });

  it('refuses an unknown command', async () => {
    expect((await kis(['db:explode'])).code).toBe(2);
  });

  it('db:status reuses the embedded database a running KIS process started, and shows its engine, collections and plans', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-cli-'));
    dirs.push(dataDir);
    const db = await provisionDatabase({ dataDir, only: 'ferretdb' });
    const env = { KIS_DATA_DIR: dataDir, KIS_DB_ENGINE: 'ferretdb' };
    try {
      // Data written the way KIS writes it: two depots (with their indexes) and an admin's setup link.
      for (const name of ['North', 'South'])
        expect((await kis(['depot:add', '--name', name, '--compartments', '4'], env)).code).toBe(0);
      expect((await kis(['admin:create', '--email', 'root@example.com'], env)).code).toBe(0);

      const { stdout, code } = await kis(['db:status', '--json'], env);
      expect(code).toBe(0);
      const status = JSON.parse(stdout) as DbStatusJson;
      expect(status).toMatchObject({
        server: 'embedded ferretdb',
        uri: db.uri,
        database: 'kis',
        reachable: true,
        startedForThisCommand: false,
        engine: { kind: 'ferretdb', product: 'FerretDB', version: expect.stringMatching(/^v1\./) as string },
      });
      expect(['sqlite', 'postgresql']).toContain(status.engine.backend);

      const collection = (name: string): DbStatusJson['collections'][number] | undefined =>
        status.collections.find((c) => c.name === name);
      expect(collection('depots')).toMatchObject({ documents: 2, indexes: expect.any(Number) as number });
      expect(collection('verifications')?.documents).toBe(1);
      expect(collection('audit')?.documents).toBeGreaterThanOrEqual(2);
      expect(collection('depot_history')).toMatchObject({ indexes: 4 });
      for (const c of status.collections) expect(c.storageBytes).toBeGreaterThanOrEqual(0);

      // Every hot query is explained; invoices do not exist before the first invoice.
      expect(status.hotQueries.map((q) => q.name)).toEqual(HOT_QUERIES.map((q) => q.name));
      for (const q of status.hotQueries) {
        expect(typeof q.index).toBe('boolean');
        expect(q.plan.length).toBeGreaterThan(0);
      }
      const byName = (name: string): DbStatusJson['hotQueries'][number] | undefined =>
        status.hotQueries.find((q) => q.name === name);
      expect(byName('invoices of an org')).toMatchObject({ index: false, plan: 'no collection yet' });
      if (status.engine.backend === 'sqlite') {
        // FerretDB 1.24 on SQLite scans every collection (its index expressions differ from its
        // queries'); only an _id filter is handed to SQLite.
        expect(byName('depot history page')).toMatchObject({ index: false, plan: 'SCAN depot_history' });
        expect(byName('depot by id')).toMatchObject({ plan: 'SCAN depots', pushdown: { filter: true } });
      } else {
        // On KIS's PostgreSQL the history page reads an index twin once the history is big enough
        // for the planner to prefer it (a table of a few rows is read whole, as it should be).
        const client = new MongoClient(db.uri);
        try {
          const entries = Array.from({ length: 5000 }, (_, i) => ({
            _id: `d${i % 50}:ev:${i}`,
            depotId: String(i % 50).padStart(16, '0'),
            depotMonth: `${String(i % 50).padStart(16, '0')}/2026-01`,
            at: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
            source: 'depot',
            kind: 'key_removed',
          }));
          await client.db('kis').collection<{ _id: string }>('depot_history').insertMany(entries);
          // The search keys of users: a search reads those of one trigram, by index.
          const keys = Array.from({ length: 3000 }, (_, i) =>
            keysOf({ _id: `u${i}`, name: `Person ${i}`, emailLower: `person${i}@example.com`, createdAt: new Date() }),
          ).flat();
          await client.db('kis').collection('user_search_keys').insertMany(keys);
          // An audit log after the entries the CLI wrote: its page reads one or two blocks, by index.
          const audit = Array.from({ length: 5000 }, (_, i) => ({ seq: 1000 + i, block: Math.floor((999 + i) / 100) }));
          await client.db('kis').collection('audit').insertMany(audit);
          // Throttle records of many client addresses, few of them locked: the admin's user list
          // reads the locked ones by index.
          const throttles = Array.from({ length: 5000 }, (_, i) => ({
            key: `login-ip:192.0.${i >> 8}.${i & 255}`,
            failures: 0,
            ...(i % 500 === 0 ? { locked: true, lockedUntil: new Date(Date.now() + 60_000) } : {}),
          }));
          await client.db('kis').collection('throttles').insertMany(throttles);
          for (const collection of ['depot_history', 'user_search_keys', 'audit', 'throttles'])
            await client
              .db('kis')
              .command({ analyze: collection })
              .catch(() => undefined);
        } finally {
          await client.close();
        }
        const again = JSON.parse((await kis(['db:status', '--json'], env)).stdout) as DbStatusJson;
        const page = again.hotQueries.find((q) => q.name === 'depot history page');
        expect(page).toMatchObject({ index: true, plan: expect.stringMatching(/kis_gin/) as string });
        for (const name of ['user search', 'audit page', 'lockouts in force'])
          expect(again.hotQueries.find((q) => q.name === name)).toMatchObject({
            index: true,
            plan: expect.stringMatching(/kis_gin/) as string,
          });
      }

      const table = (await kis(['db:status'], env)).stdout;
      expect(table).toMatch(/engine: +FerretDB v1\.\d+\.\d+ \((SQLite|PostgreSQL) backend/);
      expect(table).toMatch(/^depots +2 /m);
      expect(table).toMatch(/^depot history page +depot_history +(yes|no) +\S/m);
    } finally {
      await db.stop();
    }
  });

  it("db:status on MONGODB_URI explains the hot queries on that server's own terms", async () => {
    const uri = `${inject('mongoUri')}kis_cli_status`;
    expect((await kis(['depot:add', '--name', 'East', '--compartments', '2'], { MONGODB_URI: uri })).code).toBe(0);
    const { stdout, code } = await kis(['db:status', '--json'], { MONGODB_URI: uri });
    expect(code).toBe(0);
    const status = JSON.parse(stdout) as DbStatusJson;
    expect(status.engine).toMatchObject({ kind: 'external' });
    expect(status.collections.find((c) => c.name === 'depots')?.documents).toBeGreaterThanOrEqual(1);
    const byId = status.hotQueries.find((q) => q.name === 'depot by id');
    const page = status.hotQueries.find((q) => q.name === 'depot history page');
    if (status.engine.product === 'MongoDB') {
      // MongoDB reads both through an index (IDHACK or EXPRESS for the _id, IXSCAN for the page).
      expect(byId?.index).toBe(true);
      expect(page).toMatchObject({ index: true, plan: expect.stringContaining('depotId_1_at_-1') as string });
    } else {
      expect(byId?.pushdown?.filter).toBe(true);
    }
  });

  it('db:status names MONGODB_URI without its password', async () => {
    const { stdout } = await kis(['db:status'], {
      MONGODB_URI: `mongodb://alice:s3cret@127.0.0.1:1/kis_x?serverSelectionTimeoutMS=500`,
    });
    expect(stdout).toContain('server:    MONGODB_URI');
    expect(stdout).toContain('mongodb://alice:***@127.0.0.1:1/kis_x');
    expect(stdout).not.toContain('s3cret');
    expect(stdout).toContain('reachable: no');
  });
});
