import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findPostgresBinaries } from './postgres.js';
import { which } from './which.js';

const run = promisify(execFile);

/** The kinds of database server KIS can start by itself. */
export type EngineKind = 'mongod' | 'ferretdb';

/**
 * Where FerretDB keeps the documents: in KIS's own PostgreSQL cluster when PostgreSQL's binaries
 * are here (Debian's packages, or the npm package `npm ci` brings), else in SQLite files, which
 * scan a collection for almost every query (see README, "The database").
 */
export type FerretBackend = 'postgresql' | 'sqlite';

/** A database binary found on this machine, and how to start it on a port with data under a directory. */
export interface Engine {
  kind: EngineKind;
  binary: string;
  /** FerretDB's storage; undefined for mongod. */
  backend?: FerretBackend;
  /**
   * Command-line arguments for a server on 127.0.0.1:port with its state under dir; for FerretDB
   * on PostgreSQL, `postgresUrl` names the cluster.
   */
  args(port: number, dir: string, postgresUrl?: string): string[];
}

/** What `KIS_DB_ENGINE` asks for, as options of {@link findEngine} and provisionDatabase. */
export function engineChoice(setting: 'auto' | 'mongod' | 'ferretdb' | 'ferretdb-postgresql' | 'ferretdb-sqlite'): {
  only?: EngineKind;
  backend?: FerretBackend;
} {
  switch (setting) {
    case 'auto':
      return {};
    case 'mongod':
    case 'ferretdb':
      return { only: setting };
    case 'ferretdb-postgresql':
      return { only: 'ferretdb', backend: 'postgresql' };
    case 'ferretdb-sqlite':
      return { only: 'ferretdb', backend: 'sqlite' };
  }
}

/** FerretDB's version that KIS is tested with. */
export const FERRETDB_VERSION = 'v1.24.2';

/** Where a failed mongod download is remembered, so that a machine without internet does not retry at every start. */
const DOWNLOAD_FAILED_MARKER = path.join(os.tmpdir(), 'kis-mongod-download-failed');
const DOWNLOAD_RETRY_MS = 24 * 3600_000;
/** How long a download of mongod may take before KIS gives up and falls back to FerretDB. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

function mongodEngine(binary: string): Engine {
  return {
    kind: 'mongod',
    binary,
    args: (port, dir) => ['--dbpath', dir, '--bind_ip', '127.0.0.1', '--port', String(port), '--quiet'],
  };
}

/** FerretDB at `binary` with the given storage. */
export function ferretdbEngine(binary: string, backend: FerretBackend): Engine {
  return {
    kind: 'ferretdb',
    binary,
    backend,
    args: (port, dir, postgresUrl) => [
      ...(backend === 'postgresql'
        ? ['--handler=postgresql', `--postgresql-url=${postgresUrl ?? ''}`]
        : ['--handler=sqlite', `--sqlite-url=file:${dir}/`]),
      `--listen-addr=127.0.0.1:${port}`,
      `--state-dir=${dir}`,
      // The default debug port 8088 would clash between instances, and telemetry would call out.
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=warn',
    ],
  };
}

function goBinDirs(): string[] {
  const dirs = [path.join(os.homedir(), 'go', 'bin')];
  if (process.env.GOPATH) dirs.unshift(path.join(process.env.GOPATH, 'bin'));
  if (process.env.GOBIN) dirs.unshift(process.env.GOBIN);
  return dirs;
}

async function findFerretdb(): Promise<string | undefined> {
  return which('ferretdb', goBinDirs());
}

/**
 * Asks mongodb-memory-server for a mongod binary: from its cache, or by downloading one where the
 * machine can. A failure is remembered for a day so that offline machines start quickly.
 */
async function mongodFromMemoryServer(log: (msg: string) => void): Promise<string | undefined> {
  try {
    const failedAt = Number(await readFile(DOWNLOAD_FAILED_MARKER, 'utf8'));
    if (Date.now() - failedAt < DOWNLOAD_RETRY_MS) return undefined;
  } catch {
    // no marker: try
  }
  // Ask DNS first: without it the download fails only after several noisy retries.
  const mirror = new URL(process.env.MONGOMS_DOWNLOAD_MIRROR ?? 'https://fastdl.mongodb.org').hostname;
  const resolvable = await Promise.race([
    lookup(mirror).then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref()),
  ]);
  if (!resolvable) {
    log(`no mongod on PATH and ${mirror} is out of reach; trying FerretDB`);
    await writeFile(DOWNLOAD_FAILED_MARKER, String(Date.now())).catch(() => undefined);
    return undefined;
  }
  try {
    const { MongoBinary } = await import('mongodb-memory-server-core');
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('timed out')), DOWNLOAD_TIMEOUT_MS).unref(),
    );
    const binary = await Promise.race([MongoBinary.getPath(), timeout]);
    return binary;
  } catch (err) {
    log(`no mongod could be fetched (${(err as Error).message.split('\n')[0]}); trying FerretDB`);
    await writeFile(DOWNLOAD_FAILED_MARKER, String(Date.now())).catch(() => undefined);
    return undefined;
  }
}

/** The one line shown when no database can be had at all. */
export const NO_DATABASE_MESSAGE =
  'No database available: set MONGODB_URI to a MongoDB server, or install MongoDB (mongod on PATH), ' +
  `or install FerretDB ${FERRETDB_VERSION} with "bash scripts/install-ferretdb.sh" (needs Go).`;

/**
 * Picks the database server to start, in the order of ARCHITECTURE.md: mongod on PATH, mongod from
 * mongodb-memory-server, FerretDB (on PATH or in ~/go/bin, installed with Go when missing), on
 * PostgreSQL where its binaries are found, else on SQLite.
 * Returns undefined when none can be had.
 */
export async function findEngine(options: {
  log: (msg: string) => void;
  /** Install FerretDB with Go when nothing else is found. */
  installFerretdb: boolean;
  /** Restrict the search, e.g. to FerretDB in tests. */
  only?: EngineKind;
  /** FerretDB's storage; by default PostgreSQL where its binaries are found, else SQLite. */
  backend?: FerretBackend;
}): Promise<Engine | undefined> {
  if (options.only !== 'ferretdb') {
    const onPath = await which('mongod');
    if (onPath) return mongodEngine(onPath);
    const fetched = await mongodFromMemoryServer(options.log);
    if (fetched) return mongodEngine(fetched);
  }
  if (options.only === 'mongod') return undefined;
  let ferret = await findFerretdb();
  if (!ferret && options.installFerretdb && (await which('go'))) {
    options.log(`FerretDB not found; installing ${FERRETDB_VERSION} with Go (one-time, about a minute)`);
    const script = path.resolve(
      path.dirname(new URL(import.meta.url).pathname),
      '../../../scripts/install-ferretdb.sh',
    );
    try {
      await run('bash', [script], { timeout: 15 * 60_000 });
      ferret = await findFerretdb();
    } catch (err) {
      options.log(`installing FerretDB failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (!ferret) return undefined;
  if (options.backend === 'sqlite') return ferretdbEngine(ferret, 'sqlite');
  if ((await findPostgresBinaries()).length > 0) return ferretdbEngine(ferret, 'postgresql');
  if (options.backend === 'postgresql') {
    options.log('FerretDB is to run on PostgreSQL, but no PostgreSQL binaries were found');
    return undefined;
  }
  options.log('no PostgreSQL binaries found: FerretDB keeps its data in SQLite, which is slow at volume');
  return ferretdbEngine(ferret, 'sqlite');
}

/** Makes sure a directory exists with owner-only access (it holds the database files). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}
