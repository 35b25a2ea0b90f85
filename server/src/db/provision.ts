import { readFileSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { ensurePrivateDir, findEngine, NO_DATABASE_MESSAGE, type EngineKind, type FerretBackend } from './engines.js';
import { freePort } from './free-port.js';
import { clusterMajor, startPostgres, type RunningPostgres } from './postgres.js';
import { migrateSqliteData } from './sqlite-to-postgres.js';
import { killQuietly, spawnTied, type TiedProcess } from './tied-process.js';

/** Which database a KIS process uses and whether it must stop it. */
export interface ProvisionedDatabase {
  /** `external` when MONGODB_URI names the server; otherwise the engine that runs under the data dir. */
  kind: 'external' | EngineKind;
  /** FerretDB's storage, for an embedded FerretDB. */
  backend?: FerretBackend;
  /** Connection string without credentials in logs; the database name is chosen by the caller. */
  uri: string;
  /** True when this process started the server and stops it on {@link stop}. */
  owned: boolean;
  /** Process id of the embedded server, when there is one. */
  pid?: number;
  /** Stops the server if this process owns it; otherwise does nothing. */
  stop(): Promise<void>;
}

/** What `<data>/db.json` holds while an embedded server runs, so other KIS processes reuse it. */
export interface DbState {
  kind: EngineKind;
  backend?: FerretBackend;
  uri: string;
  pid: number;
  ownerPid: number;
  startedAt: string;
}

/** No database could be provisioned; the message says what to install. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

interface ProvisionOptions {
  dataDir: string;
  /** From MONGODB_URI: when set, nothing is started. */
  mongodbUri?: string | undefined;
  log?: (msg: string) => void;
  /** Install FerretDB with Go when no database binary is found (default true). */
  installFerretdb?: boolean;
  /** Restrict which engine may be started (tests use FerretDB to be independent of the machine). */
  only?: EngineKind;
  /** FerretDB's storage; by default PostgreSQL where its binaries are found, else SQLite. */
  backend?: FerretBackend;
  /** False only to measure FerretDB's PostgreSQL without KIS's index twins (postgres-index-twins.ts). */
  postgresIndexTwins?: boolean;
}

/** The file other KIS processes read to find a running embedded database. */
export function dbStateFile(dataDir: string): string {
  return path.join(dataDir, 'db.json');
}

const LOCK_STALE_MS = 5 * 60_000;
const START_TIMEOUT_MS = 60_000;

/** True when a process with this id exists (signal 0 tests without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pings a MongoDB-compatible server; false if it does not answer within the timeout. */
export async function ping(uri: string, timeoutMs = 2000): Promise<boolean> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    directConnection: true,
  });
  try {
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function readState(dataDir: string): Promise<DbState | undefined> {
  try {
    return JSON.parse(await readFile(dbStateFile(dataDir), 'utf8')) as DbState;
  } catch {
    return undefined;
  }
}

/**
 * Takes the start lock of a data dir, so that two KIS processes starting at once do not both start
 * a server. Returns a release function, or undefined when another live process holds it.
 */
async function tryLock(dataDir: string): Promise<(() => Promise<void>) | undefined> {
  const lockFile = path.join(dataDir, 'db.lock');
  try {
    const handle = await open(lockFile, 'wx', 0o600);
    await handle.writeFile(JSON.stringify({ pid: process.pid, at: Date.now() }));
    await handle.close();
    return () => rm(lockFile, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      const holder = JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number; at: number };
      if (!isAlive(holder.pid) || Date.now() - holder.at > LOCK_STALE_MS) await rm(lockFile, { force: true });
    } catch {
      // Half-written or vanished lock: remove it so the next round can take it.
      await rm(lockFile, { force: true });
    }
    return undefined;
  }
}

/**
 * Finds or starts the database for a data dir, in the order of ARCHITECTURE.md: MONGODB_URI; a
 * running embedded server named in `<data>/db.json`; a new embedded server (mongod, else FerretDB).
 *
 * A server this process starts is tied to it: it stops on {@link ProvisionedDatabase.stop}, at
 * process exit, and (through the kernel's parent-death signal) when this process is killed.
 *
 * @example
 * const db = await provisionDatabase({ dataDir: config.dataDir, mongodbUri: config.MONGODB_URI });
 * // … use db.uri …
 * await db.stop();
 */
export async function provisionDatabase(options: ProvisionOptions): Promise<ProvisionedDatabase> {
  const log = options.log ?? (() => undefined);
  if (options.mongodbUri) {
    return { kind: 'external', uri: options.mongodbUri, owned: false, stop: async () => undefined };
  }
  const dataDir = path.resolve(options.dataDir);
  await ensurePrivateDir(dataDir);

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const reused = await reuseRunning(dataDir);
    if (reused) return reused;
    const release = await tryLock(dataDir);
    if (release) {
      try {
        // Another process may have finished starting between our check and the lock.
        return (await reuseRunning(dataDir)) ?? (await startOwn(dataDir, options, log));
      } finally {
        await release();
      }
    }
    if (Date.now() > deadline)
      throw new DatabaseUnavailableError(
        `Timed out waiting for another KIS process to start the database in ${dataDir}`,
      );
    await sleep(250);
  }
}

async function reuseRunning(dataDir: string): Promise<ProvisionedDatabase | undefined> {
  const state = await readState(dataDir);
  if (!state) return undefined;
  if (isAlive(state.pid) && (await ping(state.uri))) {
    return {
      kind: state.kind,
      ...(state.backend ? { backend: state.backend } : {}),
      uri: state.uri,
      owned: false,
      pid: state.pid,
      stop: async () => undefined,
    };
  }
  // The owner died and took its server with it: the file is stale.
  await rm(dbStateFile(dataDir), { force: true });
  return undefined;
}

async function startOwn(
  dataDir: string,
  options: ProvisionOptions,
  log: (msg: string) => void,
): Promise<ProvisionedDatabase> {
  const engine = await findEngine({
    log,
    installFerretdb: options.installFerretdb ?? true,
    ...(options.only ? { only: options.only } : {}),
    ...(options.backend ? { backend: options.backend } : {}),
  });
  if (!engine) throw new DatabaseUnavailableError(NO_DATABASE_MESSAGE);

  const dbDir = path.join(dataDir, 'db');
  await ensurePrivateDir(dbDir);
  const clusterDir = path.join(dbDir, 'postgresql');
  const clusterVersion = await clusterMajor(clusterDir);
  if (engine.backend === 'sqlite' && clusterVersion !== undefined) {
    throw new DatabaseUnavailableError(
      `The data in ${clusterDir} needs PostgreSQL ${clusterVersion}, which is not installed here ` +
        '(npm ci installs it; or apt-get install postgresql).',
    );
  }

  let postgres: RunningPostgres | undefined;
  if (engine.backend === 'postgresql') {
    try {
      postgres = await startPostgres({
        clusterDir,
        logFile: path.join(dbDir, 'postgresql.log'),
        traverse: [dataDir, dbDir],
        log,
        ...(options.postgresIndexTwins === false ? { indexTwins: false } : {}),
      });
    } catch (err) {
      throw new DatabaseUnavailableError((err as Error).message);
    }
  }
  const name = engine.backend === 'postgresql' ? 'ferretdb-postgresql' : engine.kind;
  const dir = path.join(dbDir, name);
  await ensurePrivateDir(dir);
  const logFile = path.join(dbDir, `${name}.log`);
  const port = await freePort();
  const uri = `mongodb://127.0.0.1:${port}/`;
  let server: TiedProcess;
  try {
    server = await spawnTied({ binary: engine.binary, args: engine.args(port, dir, postgres?.url), logFile });
  } catch (err) {
    await postgres?.process.stop('SIGINT');
    throw new DatabaseUnavailableError((err as Error).message);
  }
  const pid = server.pid;

  const stateFile = dbStateFile(dataDir);
  const removeStateSync = (): void => {
    try {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as DbState;
      if (state.pid === pid) rmSync(stateFile, { force: true });
    } catch {
      // already gone
    }
  };
  const onExit = (): void => {
    if (!server.exited) killQuietly(pid, 'SIGTERM');
    if (postgres && !postgres.process.exited) killQuietly(postgres.process.pid, 'SIGINT');
    removeStateSync();
  };
  process.once('exit', onExit);
  const stopAll = async (): Promise<void> => {
    await server.stop('SIGTERM');
    await postgres?.process.stop('SIGINT');
  };

  const readyBy = Date.now() + START_TIMEOUT_MS;
  while (!(await ping(uri, 500))) {
    if (server.exited || Date.now() > readyBy) {
      process.removeListener('exit', onExit);
      if (!server.exited) killQuietly(pid, 'SIGKILL');
      await postgres?.process.stop('SIGINT');
      const tail = await readFile(logFile, 'utf8').then(
        (t) => t.trim().split('\n').slice(-3).join(' | '),
        () => '',
      );
      throw new DatabaseUnavailableError(`${engine.kind} did not start (see ${logFile}): ${tail}`);
    }
    await sleep(100);
  }

  if (engine.backend === 'postgresql') {
    try {
      await migrateSqliteData({ dbDir, ferretdb: engine.binary, into: uri, log });
    } catch (err) {
      process.removeListener('exit', onExit);
      await stopAll();
      throw new DatabaseUnavailableError(`moving the data from SQLite to PostgreSQL failed: ${(err as Error).message}`);
    }
  }

  const state: DbState = {
    kind: engine.kind,
    ...(engine.backend ? { backend: engine.backend } : {}),
    uri,
    pid,
    ownerPid: process.pid,
    startedAt: new Date().toISOString(),
  };
  await writeFile(`${stateFile}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(`${stateFile}.tmp`, stateFile);
  log(`started embedded ${name} on ${uri} with data in ${postgres ? clusterDir : dir}`);

  let stopping: Promise<void> | undefined;
  return {
    kind: engine.kind,
    ...(engine.backend ? { backend: engine.backend } : {}),
    uri,
    owned: true,
    pid,
    stop: () =>
      (stopping ??= (async () => {
        removeStateSync();
        process.removeListener('exit', onExit);
        await stopAll();
      })()),
  };
}
