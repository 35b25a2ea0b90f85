import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { ensurePrivateDir, findEngine, NO_DATABASE_MESSAGE, which, type EngineKind } from './engines.js';

/** Which database a KIS process uses and whether it must stop it. */
export interface ProvisionedDatabase {
  /** `external` when MONGODB_URI names the server; otherwise the engine that runs under the data dir. */
  kind: 'external' | EngineKind;
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
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
    return { kind: state.kind, uri: state.uri, owned: false, pid: state.pid, stop: async () => undefined };
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
  });
  if (!engine) throw new DatabaseUnavailableError(NO_DATABASE_MESSAGE);

  const dir = path.join(dataDir, 'db', engine.kind);
  await ensurePrivateDir(dir);
  const logFile = path.join(dataDir, 'db', `${engine.kind}.log`);
  const port = await freePort();
  const uri = `mongodb://127.0.0.1:${port}/`;

  // setpriv asks the kernel to send SIGTERM to the database when this process dies, even by SIGKILL,
  // so no orphan survives a crash. The server runs in its own process group so that Ctrl-C reaches
  // only us, and we stop it after the last write instead of racing it.
  const setpriv = await which('setpriv');
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', engine.binary, ...engine.args(port, dir)]]
    : [engine.binary, engine.args(port, dir)];
  const out = openSync(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new DatabaseUnavailableError(`Could not start ${engine.binary}`);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  child.unref();

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
    if (!exited) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    removeStateSync();
  };
  process.once('exit', onExit);

  const readyBy = Date.now() + START_TIMEOUT_MS;
  while (!(await ping(uri, 500))) {
    if (exited || Date.now() > readyBy) {
      process.removeListener('exit', onExit);
      if (!exited) process.kill(pid, 'SIGKILL');
      const tail = await readFile(logFile, 'utf8').then(
        (t) => t.trim().split('\n').slice(-3).join(' | '),
        () => '',
      );
      throw new DatabaseUnavailableError(`${engine.kind} did not start (see ${logFile}): ${tail}`);
    }
    await sleep(100);
  }

  const state: DbState = { kind: engine.kind, uri, pid, ownerPid: process.pid, startedAt: new Date().toISOString() };
  await writeFile(`${stateFile}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(`${stateFile}.tmp`, stateFile);
  log(`started embedded ${engine.kind} on ${uri} with data in ${dir}`);

  let stopping: Promise<void> | undefined;
  return {
    kind: engine.kind,
    uri,
    owned: true,
    pid,
    stop: () =>
      (stopping ??= (async () => {
        removeStateSync();
        process.removeListener('exit', onExit);
        if (exited) return;
        process.kill(pid, 'SIGTERM');
        const killed = await Promise.race([exitedPromise.then(() => true), sleep(10_000).then(() => false)]);
        if (!killed) {
          process.kill(pid, 'SIGKILL');
          await exitedPromise;
        }
      })()),
  };
}
