import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ferretdbEngine, findEngine } from '../../../server/src/db/engines.js';
import { freePort } from '../../../server/src/db/free-port.js';
import { ping } from '../../../server/src/db/provision.js';
import { findPostgresBinaries, startPostgres } from '../../../server/src/db/postgres.js';
import { spawnTied, type TiedProcess } from '../../../server/src/db/tied-process.js';
import { eventually } from '../../helpers/server.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('PostgreSQL from npm', () => {
  it('runs FerretDB on the binaries `npm ci` brings, on a machine without any PostgreSQL installed', async () => {
    const npm = (await findPostgresBinaries()).find((b) => b.source === 'npm');
    // `npm ci` installs the optional package of this platform; without it, a machine without
    // Debian's PostgreSQL would fall back to SQLite.
    expect(npm).toBeDefined();
    if (!npm) return;
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-npm-pg-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const dbDir = path.join(dataDir, 'db');
    const clusterDir = path.join(dbDir, 'postgresql');
    await mkdir(dbDir, { recursive: true, mode: 0o700 });

    const postgres = await startPostgres({
      clusterDir,
      logFile: path.join(dbDir, 'postgresql.log'),
      traverse: [dataDir, dbDir],
      log: () => undefined,
      binaries: npm,
    });
    cleanups.push(() => postgres.process.stop('SIGINT'));
    expect(postgres.binaries.major).toBe(npm.major);

    const ferret = await findEngine({
      log: () => undefined,
      installFerretdb: false,
      only: 'ferretdb',
      backend: 'sqlite',
    });
    if (!ferret) throw new Error('FerretDB is not installed: run bash scripts/install-ferretdb.sh');
    const port = await freePort();
    const server: TiedProcess = await spawnTied({
      binary: ferret.binary,
      args: ferretdbEngine(ferret.binary, 'postgresql').args(port, dbDir, postgres.url),
      logFile: path.join(dbDir, 'ferretdb.log'),
    });
    cleanups.push(() => server.stop());
    const uri = `mongodb://127.0.0.1:${port}/`;
    await eventually(() => ping(uri, 500), 20_000, 'FerretDB to answer');

    const client = new MongoClient(uri);
    cleanups.push(() => client.close());
    const notes = client.db('kis').collection<{ _id: string; text: string }>('notes');
    await notes.insertOne({ _id: 'n1', text: 'Grüße aus PostgreSQL' });
    expect(await notes.findOne({ _id: 'n1' })).toEqual({ _id: 'n1', text: 'Grüße aus PostgreSQL' });
    const plan = JSON.stringify((await notes.find({ _id: 'n1' }).explain()).queryPlanner);
    expect(plan).toMatch(/Index Scan/);
  });
});
