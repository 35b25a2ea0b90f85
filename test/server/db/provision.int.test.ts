import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  dbStateFile,
  isAlive,
  ping,
  provisionDatabase,
  type DbState,
  type ProvisionedDatabase,
} from '../../../server/src/db/provision.js';
import { ROOT, eventually, exited } from '../../helpers/server.js';

const dirs: string[] = [];
const started: ProvisionedDatabase[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kis-provision-'));
  dirs.push(dir);
  return dir;
}

async function provision(dataDir: string): Promise<ProvisionedDatabase> {
  const db = await provisionDatabase({ dataDir, only: 'ferretdb' });
  started.push(db);
  return db;
}

afterEach(async () => {
  for (const db of started.splice(0)) await db.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('embedded database provisioning', () => {
  it('uses MONGODB_URI as given and starts nothing', async () => {
    const dataDir = await tempDir();
    const db = await provisionDatabase({ dataDir, mongodbUri: 'mongodb://db.example:27017/kis' });
    expect(db).toMatchObject({ kind: 'external', uri: 'mongodb://db.example:27017/kis', owned: false });
    expect(existsSync(dbStateFile(dataDir))).toBe(false);
  });

  it('starts a server under the data dir and names it in db.json', async () => {
    const dataDir = await tempDir();
    const db = await provision(dataDir);
    expect(db.owned).toBe(true);
    expect(await ping(db.uri)).toBe(true);
    const state = JSON.parse(await readFile(dbStateFile(dataDir), 'utf8')) as DbState;
    expect(state).toMatchObject({ kind: 'ferretdb', uri: db.uri, pid: db.pid, ownerPid: process.pid });
    // PostgreSQL is on every machine `npm ci` ran on: the npm package brings it.
    expect(state.backend).toBe('postgresql');
    expect(existsSync(path.join(dataDir, 'db', 'postgresql', 'PG_VERSION'))).toBe(true);
  });

  it('lets a second process on the same data dir reuse the running server', async () => {
    const dataDir = await tempDir();
    const first = await provision(dataDir);
    const second = await provision(dataDir);
    expect(second.owned).toBe(false);
    expect(second.uri).toBe(first.uri);
    // The reuser's stop leaves the owner's server running.
    await second.stop();
    expect(await ping(first.uri)).toBe(true);
  });

  it('stops its own server and removes db.json on stop', async () => {
    const dataDir = await tempDir();
    const db = await provision(dataDir);
    await db.stop();
    expect(db.pid).toBeDefined();
    expect(isAlive(db.pid ?? 0)).toBe(false);
    expect(existsSync(dbStateFile(dataDir))).toBe(false);
  });

  it('keeps the data across a restart of the server', async () => {
    const dataDir = await tempDir();
    const { MongoClient } = await import('mongodb');
    const first = await provision(dataDir);
    const client = new MongoClient(first.uri);
    await client.db('kis').collection('notes').insertOne({ text: 'bleibt' });
    await client.close();
    await first.stop();

    const second = await provision(dataDir);
    const again = new MongoClient(second.uri);
    const found = await again.db('kis').collection('notes').findOne({ text: 'bleibt' });
    await again.close();
    expect(found?.text).toBe('bleibt');
  });

  it('leaves no database process behind when its parent is killed with SIGKILL', async () => {
    const dataDir = await tempDir();
    const module = path.join(ROOT, 'server/dist/db/provision.js');
    const script = `
      import { provisionDatabase } from ${JSON.stringify(module)};
      const db = await provisionDatabase({ dataDir: ${JSON.stringify(dataDir)}, only: 'ferretdb' });
      console.log(JSON.stringify({ pid: db.pid }));
      setInterval(() => {}, 1000);
    `;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { pid } = await new Promise<{ pid: number }>((resolve) =>
      parent.stdout.once('data', (c: Buffer) => resolve(JSON.parse(c.toString()) as { pid: number })),
    );
    expect(isAlive(pid)).toBe(true);
    // FerretDB keeps its data in KIS's own PostgreSQL: that server must go too.
    const postmaster = Number(
      (await readFile(path.join(dataDir, 'db/postgresql/postmaster.pid'), 'utf8')).split('\n')[0],
    );
    expect(isAlive(postmaster)).toBe(true);

    const gone = exited(parent);
    parent.kill('SIGKILL');
    await gone;
    await eventually(() => !isAlive(pid), 10_000, 'the database process to end');
    await eventually(() => !isAlive(postmaster), 10_000, 'PostgreSQL to end');

    // The stale db.json is noticed and replaced by the next process.
    const next = await provision(dataDir);
    expect(next.owned).toBe(true);
    expect(next.pid).not.toBe(pid);
  });

  it('replaces a db.json whose server is gone', async () => {
    const dataDir = await tempDir();
    const stale: DbState = {
      kind: 'ferretdb',
      uri: 'mongodb://127.0.0.1:1/',
      pid: 999_999,
      ownerPid: 999_998,
      startedAt: new Date().toISOString(),
    };
    await writeFile(dbStateFile(dataDir), JSON.stringify(stale));
    const db = await provision(dataDir);
    expect(db.owned).toBe(true);
    expect(db.uri).not.toBe(stale.uri);
  });

  it('starts one server when two processes start at once', async () => {
    const dataDir = await tempDir();
    const [a, b] = await Promise.all([provision(dataDir), provision(dataDir)]);
    expect(a.uri).toBe(b.uri);
    expect([a.owned, b.owned].filter(Boolean)).toHaveLength(1);
  });
});
