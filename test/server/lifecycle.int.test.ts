import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { dbStateFile, isAlive, type DbState } from '../../server/src/db/provision.js';
import { eventually, exited, startServer } from '../helpers/server.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kis-life-'));
  dirs.push(dir);
  return dir;
}

async function dbState(dir: string): Promise<DbState> {
  return JSON.parse(await readFile(dbStateFile(dir), 'utf8')) as DbState;
}

describe('server lifecycle on the embedded database', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('shuts down cleanly on %s and leaves no database process', async (signal) => {
    const dir = await dataDir();
    const server = await startServer({ embedded: true, dataDir: dir, env: { KIS_DB_ENGINE: 'ferretdb' } });
    const { pid } = await dbState(dir);
    expect(isAlive(pid)).toBe(true);

    const done = exited(server.process);
    server.process.kill(signal);
    expect(await done).toBe(0);
    await eventually(() => !isAlive(pid), 10_000, 'the database process to end');
    await expect(readFile(dbStateFile(dir))).rejects.toThrow();
  });

  it('finds its data again after a restart', async () => {
    const dir = await dataDir();
    const first = await startServer({ embedded: true, dataDir: dir, env: { KIS_DB_ENGINE: 'ferretdb' } });
    const client = new MongoClient((await dbState(dir)).uri);
    await client.db('kis').collection('restart_check').insertOne({ marker: 'noch da' });
    await client.close();
    expect(await first.stop()).toBe(0);

    const second = await startServer({ embedded: true, dataDir: dir, env: { KIS_DB_ENGINE: 'ferretdb' } });
    try {
      const again = new MongoClient((await dbState(dir)).uri);
      const doc = await again.db('kis').collection('restart_check').findOne({ marker: 'noch da' });
      await again.close();
      expect(doc?.marker).toBe('noch da');
      // The master key generated at the first start is kept, not replaced.
      const key = await readFile(path.join(dir, 'master.key'), 'utf8');
      expect(Buffer.from(key.trim(), 'base64')).toHaveLength(32);
    } finally {
      await second.stop();
    }
  });
});
