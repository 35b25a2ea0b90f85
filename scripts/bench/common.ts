/**
 * What the benchmarks share: a KIS server started from the build like the tests do, the first
 * admin's session, and percentiles. Progress goes to stderr; results are one JSON object on stdout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { formatDepotId } from '@kis/protocol/telegram';
import { loadMasterKey } from '../../server/src/crypto/master-key.js';
import { createSecretBox } from '../../server/src/crypto/secret-box.js';
import { connectDatabase, disconnectDatabase } from '../../server/src/db/connection.js';
import { Depot } from '../../server/src/depots/model.js';
import { historyMonth } from '../../server/src/depots/history-months.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_PASSWORD = 'Ein langes Passwort für Benchmarks 7';

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Median and upper percentiles of a sample, rounded to one decimal. */
export function stats(samples: number[]): { median: number; p90: number; p95: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (x: number): number => Math.round(x * 10) / 10;
  return { median: round(at(0.5)), p90: round(at(0.9)), p95: round(at(0.95)), p99: round(at(0.99)) };
}

/** Size of everything under a directory, in MiB. */
export async function dirMib(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

/** Counts `\n` in a chunk. */
export function countNewlines(chunk: Buffer): number {
  let count = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++;
  return count;
}

/** Reads a whole answer's body as text (an error's, mostly). */
export async function readText(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += (chunk as Buffer).toString();
  return text;
}

/** Node's process warnings in what the server wrote to stderr, with how often each came. */
export function serverWarnings(stderr: string): Array<{ warning: string; count: number }> {
  const counts = new Map<string, number>();
  for (const [, text] of stderr.matchAll(/^\(node:\d+\) (\w*Warning: [^\n]*)$/gm))
    if (text) counts.set(text, (counts.get(text) ?? 0) + 1);
  return [...counts].map(([warning, count]) => ({ warning, count }));
}

export interface RunningServer {
  url: string;
  udpPort: number;
  child: ChildProcess;
  stderr: () => string;
  /** Everything the server logged so far. */
  stdout: () => string;
  dataDir: string;
}

/**
 * Starts the built server on free ports with its own data dir and database, like the tests do.
 * Pass `dataDir` and `MONGODB_URI` in `env` to start it on prepared data.
 */
export async function startServer(
  mongoBase: string,
  env: Record<string, string>,
  dataDir?: string,
  /** Flags for node itself (`--cpu-prof`, which NODE_OPTIONS does not take). */
  nodeFlags: string[] = [],
  /** False for a server started again on data that has an administrator: it prints no set-up link. */
  setupLink = true,
): Promise<RunningServer> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'kis-bench-')));
  const child = spawn(process.execPath, [...nodeFlags, path.join(ROOT, 'server/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      KIS_DATA_DIR: dir,
      KIS_HTTP_PORT: '0',
      KIS_UDP_PORT: '0',
      KIS_LOG_LEVEL: 'info',
      MONGODB_URI: `${mongoBase}kis_bench_${randomBytes(4).toString('hex')}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  // The "listening" log line names the ports the server got.
  const ports = await new Promise<{ http: number; udp: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 300_000);
    let listening = false;
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      // Searched only until found: a search of all the output at every chunk fell so far behind a
      // busy server's log that its pipe filled and the server could not flush its log at exit.
      if (listening) return;
      const line = /\{[^\n]*"msg":"listening"[^\n]*\}/.exec(stdout)?.[0];
      if (line && (!setupLink || stderr.includes('#token='))) {
        listening = true;
        clearTimeout(timer);
        const entry = JSON.parse(line) as { httpPort: number; udpPort: number };
        resolve({ http: entry.httpPort, udp: entry.udpPort });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${ports.http}`,
    udpPort: ports.udp,
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    dataDir: dir,
  };
}

/** Stops the server (SIGTERM, a clean stop) and removes its data dir unless it is to be started again. */
export async function stopServer(server: RunningServer, options: { keepData?: boolean } = {}): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  if (!options.keepData) await rm(server.dataDir, { recursive: true, force: true });
}

export async function post(url: string, body: unknown, cookie?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
}

/** Creates the first admin through the printed link and returns its session cookie and CSRF token. */
export async function adminSession(server: RunningServer): Promise<{ cookie: string; csrfToken: string }> {
  const token = /#token=([A-Za-z0-9_-]+)/.exec(server.stderr())?.[1];
  const setup = await post(`${server.url}/api/auth/admin-setup`, {
    token,
    email: 'bench@kis.test',
    name: 'Bench',
    password: BENCH_PASSWORD,
  });
  if (!setup.ok) throw new Error(`admin set-up failed: ${await setup.text()}`);
  const login = await post(`${server.url}/api/auth/login`, { email: 'bench@kis.test', password: BENCH_PASSWORD });
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('no session cookie');
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

/** A session as the portal's browser holds it: the cookie and the token for state-changing requests. */
export interface Session {
  cookie: string;
  csrfToken: string;
}

/**
 * Logs in through the API (by default as the admin {@link adminSession} created). Benchmarks log
 * in afresh before each long step, so that no idle or absolute timeout ends a session mid-run.
 */
export async function login(url: string, email = 'bench@kis.test'): Promise<Session> {
  const res = await post(`${url}/api/auth/login`, { email, password: BENCH_PASSWORD });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!res.ok || !cookie) throw new Error(`login of ${email}: ${res.status} ${await res.text()}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrfToken };
}

/** The admin's session cookie. */
export async function adminCookie(server: RunningServer): Promise<string> {
  return (await adminSession(server)).cookie;
}

/** A depot of a benchmark fixture: its id, key and the sender's counters. */
export interface BenchDepot {
  id: bigint;
  depotId: string;
  key: Buffer;
  epoch: number;
  seq: number;
}

/**
 * Writes `count` depots straight into the collection (registering them one by one through the
 * service, with an audit entry each, would take longer than most benchmarks), their keys sealed
 * with the master key of `dataDir` as the server seals them.
 */
export async function insertBenchDepots(
  uri: string,
  dataDir: string,
  count: number,
  compartments: number,
  heartbeatSeconds = 60,
  /** More fields of the `i`th depot (its company, its place). */
  extra: (i: number) => Record<string, unknown> = () => ({}),
): Promise<BenchDepot[]> {
  const box = createSecretBox(await loadMasterKey({ dataDir, KIS_MASTER_KEY: undefined }));
  await connectDatabase(uri);
  const depots: BenchDepot[] = [];
  try {
    for (let start = 0; start < count; start += 1000) {
      const docs = [];
      for (let i = start; i < Math.min(count, start + 1000); i++) {
        const key = randomBytes(32);
        const id = randomBytes(8).readBigUInt64BE();
        const depotId = formatDepotId(id);
        depots.push({ id, depotId, key, epoch: 1, seq: 0 });
        docs.push({
          _id: depotId,
          depotId,
          name: `Bench ${i}`,
          compartments,
          heartbeatSeconds,
          keys: [{ keyId: 1, sealed: box.seal(key, `depot:${depotId}:key:1`), createdAt: new Date() }],
          currentKeyId: 1,
          createdAt: new Date(),
          ...extra(i),
        });
      }
      await Depot.insertMany(docs);
    }
  } finally {
    await disconnectDatabase();
  }
  return depots;
}

/** The kinds of depot event the fixtures cycle through. */
export const DEPOT_EVENT_KINDS = ['key_removed', 'key_returned', 'door_opened', 'door_closed', 'pin_used'] as const;

/**
 * The `n`th event of a depot (1-based) at `at`, as the server stores a telegram's (`depot_history`,
 * see `historySchema` in server/src/depots/model.ts): every kind and compartment in turn, a short
 * note with umlauts on every fourth.
 */
export function depotEvent(depotId: string, n: number, at: Date): Record<string, unknown> {
  const comp = (n % 8) + 1;
  return {
    _id: `${depotId}:ev:${n}`,
    depotId,
    depotMonth: historyMonth(depotId, at),
    at,
    source: 'depot',
    kind: DEPOT_EVENT_KINDS[n % DEPOT_EVENT_KINDS.length],
    ev: n,
    comp,
    ...(n % 4 === 0 ? { info: `Fach ${comp}: Schlüssel Nr. ${(n * 7919) % 10_000} geprüft` } : {}),
  };
}

/** Where seeded documents go: a driver collection, or a mongoose model's `collection`. */
export interface InsertTarget {
  insertMany(docs: Array<Record<string, unknown>>, options: { ordered: boolean }): Promise<unknown>;
}

/**
 * Writes `total` documents made by `make(0 … total-1)` in batches of `batch`, unordered, one batch
 * at a time, logging progress every tenth; how long it took.
 */
export async function insertInBatches(
  target: InsertTarget,
  total: number,
  batch: number,
  make: (i: number) => Record<string, unknown>,
  label: string,
): Promise<{ seconds: number }> {
  const t0 = performance.now();
  let tenthsLogged = 0;
  for (let from = 0; from < total; from += batch) {
    const docs = [];
    for (let i = from; i < Math.min(total, from + batch); i++) docs.push(make(i));
    await target.insertMany(docs, { ordered: false });
    const done = Math.min(total, from + batch);
    if (Math.floor((done * 10) / total) > tenthsLogged) {
      tenthsLogged = Math.floor((done * 10) / total);
      const seconds = (performance.now() - t0) / 1000;
      log(`  ${done} ${label}, ${Math.round(done / seconds)} ${label}/s`);
    }
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/**
 * How often each depot event is stored in the database: `<depotId>` → ev → count. Read straight
 * from the collections so that nothing the API does (paging, merging) can hide a double. An entry
 * still in the history journal (server/src/depots/history-journal.ts) is stored too; after a crash
 * it may be in both, under the same `_id`, which counts once.
 */
export async function storedEvents(mongoUri: string): Promise<Map<string, Map<number, number>>> {
  const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    const ids = new Map<string, Map<number, Set<string>>>();
    const add = (depotId: string, ev: number, id: string): void => {
      const perDepot = ids.get(depotId) ?? new Map<number, Set<string>>();
      const seen = perDepot.get(ev) ?? new Set<string>();
      seen.add(id);
      perDepot.set(ev, seen);
      ids.set(depotId, perDepot);
    };
    const rows = client
      .db()
      .collection<{ _id: string; depotId: string; ev?: number }>('depot_history')
      .find({ source: 'depot' }, { projection: { depotId: 1, ev: 1 } });
    for await (const row of rows) if (row.ev !== undefined) add(row.depotId, row.ev, row._id);
    const pages = client.db().collection<{ p: { buffer: Uint8Array } }>('depot_history_journal').find({});
    for await (const page of pages) {
      const entries = JSON.parse(Buffer.from(page.p.buffer).toString('utf8')) as Array<{
        _id: string;
        d: string;
        source: string;
        ev?: number;
      }>;
      for (const e of entries) if (e.source === 'depot' && e.ev !== undefined) add(e.d, e.ev, e._id);
    }
    const stored = new Map<string, Map<number, number>>();
    for (const [depotId, perDepot] of ids) {
      stored.set(depotId, new Map([...perDepot].map(([ev, seen]) => [ev, seen.size])));
    }
    return stored;
  } finally {
    await client.close();
  }
}
