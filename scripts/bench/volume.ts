/**
 * Benchmark: KIS on a year's data (issue 18). Seeds a year of a depot fleet straight into the
 * database (companies and users, depots, their history, the hash-chained audit log, invoices; see
 * volume-seed.ts), starts the server on it, and then times through the HTTP API as the operator:
 * a depot's history page (newest 50) and a filtered one (a kind in a month), the audit log page,
 * a user search; the CSV export of one depot's year and of the fleet's last month, each one request
 * (time to the first byte, rows per second, the server's memory while it streams); and one file's upload and
 * download through the file exchange beside a raw file-stream copy of the same bytes. Pages are
 * sampled up to `--samples` times, but a series stops after `--budget` seconds (with at least
 * {@link MIN_SAMPLES}): on a slow engine one sample can take many seconds. Prints one JSON object.
 *
 *   npx tsx scripts/bench/volume.ts [--depots 1000 --entries 2000000 --audit 100000 --invoices 10000
 *     --users 10000 --organizations 100 --mib 1024 --samples 50 --budget 600 --batch 10000]
 *
 * Talks to 127.0.0.1 only. Needs the database's share of disk (about 0.5 GiB per million history
 * entries in FerretDB/SQLite) and twice the file's size in the temporary directory.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { provisionDatabase } from '../../server/src/db/provision.js';
import {
  adminSession,
  countNewlines,
  dirMib,
  log,
  login,
  readText,
  serverWarnings,
  startServer,
  stats,
  stopServer,
  type RunningServer,
  type Session,
} from './common.js';
import { copyFile, download, mibPerSecond, upload, writeSource } from './file-transfer.js';
import { observed, rssMib, watchPeak, type Observation, type Pids } from './process-watch.js';
import { seedYear, seededEntriesBetween, type SeededYear, type VolumeSize } from './volume-seed.js';

const { values } = parseArgs({
  options: {
    depots: { type: 'string', default: '1000' },
    entries: { type: 'string', default: '2000000' },
    audit: { type: 'string', default: '100000' },
    invoices: { type: 'string', default: '10000' },
    users: { type: 'string', default: '10000' },
    organizations: { type: 'string', default: '100' },
    mib: { type: 'string', default: '1024' },
    samples: { type: 'string', default: '50' },
    budget: { type: 'string', default: '600' },
    batch: { type: 'string', default: '10000' },
  },
});
const whole = (name: keyof typeof values, min: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number, at least ${min}`);
  return n;
};
const SIZE: VolumeSize = {
  depots: whole('depots', 1),
  entries: whole('entries', 1),
  audit: whole('audit', 1),
  invoices: whole('invoices', 0),
  users: whole('users', 1),
  organizations: whole('organizations', 1),
  batch: whole('batch', 1),
};
if (SIZE.users < SIZE.organizations) throw new Error('--users must be at least --organizations (a main account each)');
const FILE_MIB = whole('mib', 1);
const SAMPLES = whole('samples', 1);
const BUDGET_S = whole('budget', 1);
/** Fewest samples of a series however slow each is: a median needs a few. */
const MIN_SAMPLES = 3;
/** Seconds of quiet before the measurements, to see what the server and database do unasked. */
const IDLE_S = 10;

const MiB = 1024 * 1024;
const DAY_MS = 86_400_000;
const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The `k`th pick from a list, spread over it in a fixed order (a stride prime to most lengths). */
function pick<T>(list: readonly T[], k: number): T {
  const item = list[(k * 7919) % list.length];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** The latency of one page, sampled. */
interface Series {
  what: string;
  samples: number;
  /** True when the time budget ended the series before `--samples`. */
  cutByBudget: boolean;
  firstMs: number;
  median: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Calls `request(k)` for k = 0, 1, … and times each call, until `SAMPLES` calls or until the
 * budget is spent (but at least {@link MIN_SAMPLES}).
 */
async function series(what: string, request: (k: number) => Promise<void>): Promise<Series> {
  const ms: number[] = [];
  const t0 = performance.now();
  let logged = t0;
  while (ms.length < SAMPLES && (ms.length < MIN_SAMPLES || (performance.now() - t0) / 1000 < BUDGET_S)) {
    const s0 = performance.now();
    await request(ms.length);
    ms.push(performance.now() - s0);
    if (performance.now() - logged > 10_000) {
      logged = performance.now();
      log(`  ${ms.length} samples, the last ${Math.round(ms.at(-1) ?? 0)} ms`);
    }
  }
  const result = {
    what,
    samples: ms.length,
    cutByBudget: ms.length < SAMPLES,
    firstMs: round1(ms[0] ?? 0),
    ...stats(ms),
    max: round1(Math.max(...ms)),
  };
  log(`  ${result.samples} samples: median ${result.median} ms, p95 ${result.p95} ms, max ${result.max} ms`);
  return result;
}

/**
 * One request through node:http, the whole answer read. Not fetch: its client gives up on an answer
 * whose headers take over 300 s, and on a slow engine a single page can take longer.
 */
async function request(
  method: 'GET' | 'DELETE',
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const req = http.request(url, { method, headers });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  return { status: res.statusCode ?? 0, body: await readText(res) };
}

/** GETs JSON as the portal's browser does; fails on anything but 200. */
async function getJson<T>(server: RunningServer, session: Session, pathAndQuery: string): Promise<T> {
  const res = await request('GET', `${server.url}${pathAndQuery}`, { cookie: session.cookie });
  if (res.status !== 200) throw new Error(`GET ${pathAndQuery}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as T;
}

/** Logs in afresh, timing it: every login appends to the audit log, which the seeding filled. */
async function timedLogin(server: RunningServer, loginMs: number[]): Promise<Session> {
  const t0 = performance.now();
  const session = await login(server.url);
  loginMs.push(performance.now() - t0);
  return session;
}

/** The four pages, each a series. */
async function timePages(
  server: RunningServer,
  seed: SeededYear,
  loginMs: number[],
): Promise<Record<'historyNewest' | 'historyFiltered' | 'auditPage' | 'userSearch' | 'operatorOverview', Series>> {
  log('history page, newest 50 …');
  let session = await timedLogin(server, loginMs);
  const historyNewest = await series(
    "GET /api/depots/:id/history?pageSize=50: a depot's newest 50 entries (the depot page), a different depot each time",
    async (k) => {
      const page = await getJson<{ items: unknown[] }>(
        server,
        session,
        `/api/depots/${pick(seed.depotIds, k)}/history?pageSize=50`,
      );
      if (page.items.length !== Math.min(50, seed.entriesPerDepot))
        throw new Error(`the history page holds ${page.items.length} entries`);
    },
  );

  log('history page, filtered by kind and month …');
  session = await timedLogin(server, loginMs);
  const monthTo = new Date(seed.to.getTime() - 30 * DAY_MS).toISOString();
  const monthFrom = new Date(seed.to.getTime() - 60 * DAY_MS).toISOString();
  const historyFiltered = await series(
    `GET /api/depots/:id/history?kind=key_removed&from=…&to=…&pageSize=50: one kind in the month before last, a different depot each time`,
    async (k) => {
      const query = new URLSearchParams({ kind: 'key_removed', from: monthFrom, to: monthTo, pageSize: '50' });
      const page = await getJson<{ items: Array<{ kind: string }> }>(
        server,
        session,
        `/api/depots/${pick(seed.depotIds, k)}/history?${query}`,
      );
      if (page.items.some((i) => i.kind !== 'key_removed')) throw new Error('the filtered page holds other kinds');
      if (seed.entriesPerDepot >= 1000 && page.items.length === 0) throw new Error('the filtered page is empty');
    },
  );

  log('audit log page …');
  session = await timedLogin(server, loginMs);
  const auditPage = await series(
    'GET /api/admin/audit?page=1&pageSize=50: the audit page as it opens (newest 50 and the total)',
    async () => {
      const page = await getJson<{ items: unknown[]; total: number }>(
        server,
        session,
        '/api/admin/audit?page=1&pageSize=50',
      );
      if (page.items.length !== 50 || page.total < SIZE.audit) throw new Error(`the audit page: ${page.total} entries`);
    },
  );

  log('user search …');
  session = await timedLogin(server, loginMs);
  const userSearch = await series(
    'GET /api/admin/users?q=<family name>&page=1&pageSize=25: the user page searching a family name (1 in 20 users carry each)',
    async (k) => {
      const page = await getJson<{ items: unknown[]; total: number }>(
        server,
        session,
        `/api/admin/users?q=${encodeURIComponent(pick(seed.searchTerms, k))}&page=1&pageSize=25`,
      );
      if (page.total === 0) throw new Error('the user search found nobody');
    },
  );
  log("operator's overview …");
  session = await timedLogin(server, loginMs);
  const operatorOverview = await series(
    "GET /api/admin/overview: the operator's home (fleet, registrations, outbox, erasures and backup in figures)",
    async () => {
      const overview = await getJson<{ depots: { total: number } }>(server, session, '/api/admin/overview');
      if (overview.depots.total !== seed.depotIds.length)
        throw new Error(`the overview counts ${overview.depots.total} depots`);
    },
  );
  return { historyNewest, historyFiltered, auditPage, userSearch, operatorOverview };
}

/** What one CSV export's stream showed, as `performance.now()` times. */
interface CsvStream {
  t0: number;
  headersAt: number;
  firstByteAt: number;
  firstRowsAt: number;
  endAt: number;
  bytes: number;
  rows: number;
}

/**
 * One CSV export as a browser downloads it: streamed, its lines counted. With a deadline, the
 * download stops there (as a person cancels it) and `complete` says so.
 */
async function csvExport(
  url: string,
  session: Session,
  deadline = Infinity,
): Promise<CsvStream & { complete: boolean }> {
  const t0 = performance.now();
  const req = http.get(url, { agent: false, headers: { cookie: session.cookie } });
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const headersAt = performance.now();
  if (res.statusCode !== 200) throw new Error(`export: ${res.statusCode} ${await readText(res)}`);
  let firstByteAt = 0;
  let firstRowsAt = 0;
  let bytes = 0;
  let lines = 0;
  let cut = false;
  let nextLog = performance.now() + 10_000;
  for await (const data of res) {
    const chunk = data as Buffer;
    firstByteAt ||= performance.now();
    bytes += chunk.length;
    lines += countNewlines(chunk);
    if (!firstRowsAt && lines >= 2) firstRowsAt = performance.now();
    if (performance.now() > nextLog) {
      nextLog = performance.now() + 10_000;
      log(`  ${lines - 1} rows after ${Math.round((performance.now() - t0) / 1000)} s`);
    }
    if (performance.now() > deadline) {
      cut = true;
      req.destroy();
      break;
    }
  }
  const endAt = performance.now();
  if (!cut && !res.complete) throw new Error(`the export ended early after ${bytes} bytes`);
  return {
    t0,
    headersAt,
    firstByteAt: firstByteAt || endAt,
    firstRowsAt: firstRowsAt || endAt,
    endAt,
    bytes,
    // The heading and every row end in a line break.
    rows: Math.max(0, lines - 1),
    complete: !cut,
  };
}

/** What an export figure holds at least (each adds its own fields). */
interface ExportResult extends Observation {
  what: string;
  route: string;
  rows: number;
  headersMs: number;
  firstByteMs: number;
  firstRowsMs: number;
  seconds: number;
  rowsPerSecond: number;
  outputMiB: number;
}

/** A CSV export URL: `path` with the range and the CSV options. */
function exportUrl(server: RunningServer, path: string, from: Date, to: Date): string {
  const query = new URLSearchParams({ format: 'csv', delimiter: ';', from: from.toISOString(), to: to.toISOString() });
  return `${server.url}${path}?${query}`;
}

/** The figures of one timed export. */
function exportFigures(
  what: string,
  route: string,
  got: CsvStream & { complete: boolean } & Observation,
): ExportResult {
  const seconds = (got.endAt - got.t0) / 1000;
  return {
    what,
    route,
    rows: got.rows,
    headersMs: Math.round(got.headersAt - got.t0),
    firstByteMs: Math.round(got.firstByteAt - got.t0),
    firstRowsMs: Math.round(got.firstRowsAt - got.t0),
    seconds: round2(seconds),
    rowsPerSecond: Math.round(got.rows / seconds),
    outputMiB: round2(got.bytes / MiB),
    ...observation(got),
  };
}

/** The CSV export of one depot's year, and of the fleet's last month in one request. */
async function timeExports(
  server: RunningServer,
  pids: Pids,
  seed: SeededYear,
  loginMs: number[],
): Promise<{ depotYear: ExportResult; fleetMonth: ExportResult }> {
  log("CSV export of one depot's year …");
  let session = await timedLogin(server, loginMs);
  const depotId = pick(seed.depotIds, 1);
  const depotRoute = `/api/depots/${depotId}/history/export`;
  const year = await observed(pids, async () => csvExport(exportUrl(server, depotRoute, seed.from, seed.to), session));
  if (year.rows !== seed.entriesPerDepot)
    throw new Error(`the depot's year holds ${year.rows} rows, not the ${seed.entriesPerDepot} seeded`);
  const depotYear = exportFigures(
    'GET /api/depots/:id/history/export?format=csv&delimiter=%3B&from=<a year ago>&to=<the end of the seeded year>: ' +
      'one depot, every entry of the year, oldest first; time = request sent until the last byte',
    'GET /api/depots/:id/history/export',
    year,
  );
  log(
    `  ${depotYear.rows} rows in ${depotYear.seconds} s, first byte ${depotYear.firstByteMs} ms, ` +
      `server RSS +${depotYear.serverRssMiB.growth} MiB`,
  );

  // One request for the whole fleet, read until its end or the time budget (then cancelled, as a
  // person would, and the whole extrapolated from the rows per second).
  log("CSV export of the fleet's last month …");
  session = await timedLogin(server, loginMs);
  const monthFrom = new Date(seed.to.getTime() - 30 * DAY_MS);
  const expected = seededEntriesBetween(seed, monthFrom, seed.to);
  const month = await observed(pids, async () =>
    csvExport(
      exportUrl(server, '/api/depots/history/export', monthFrom, seed.to),
      session,
      performance.now() + BUDGET_S * 1000,
    ),
  );
  if (month.complete && month.rows !== expected)
    throw new Error(`the fleet's month holds ${month.rows} rows, not the ${expected} seeded`);
  const fleetMonth = {
    ...exportFigures(
      'GET /api/depots/history/export?format=csv&delimiter=%3B&from=<30 days before the end>&to=<the end of the ' +
        'seeded year>: every depot (the operator sees all), depot by depot, each oldest first; time = request ' +
        `sent until the last byte, or until the budget of ${BUDGET_S} s cancels the download`,
      'GET /api/depots/history/export',
      month,
    ),
    depots: seed.depotIds.length,
    expectedRows: expected,
    complete: month.complete,
    extrapolatedSeconds: month.complete
      ? null
      : Math.round(((month.endAt - month.t0) / 1000) * (expected / Math.max(1, month.rows))),
  };
  log(
    `  ${fleetMonth.rows} of ${expected} rows in ${fleetMonth.seconds} s` +
      `${month.complete ? '' : ` (cut by the budget; the whole: about ${fleetMonth.extrapolatedSeconds} s)`}, ` +
      `first byte ${fleetMonth.firstByteMs} ms, server RSS +${fleetMonth.serverRssMiB.growth} MiB`,
  );
  return { depotYear, fleetMonth };
}

/** The CPU and memory fields of an observation, without the time line. */
function observation(o: Observation): Observation {
  return {
    serverCpuSeconds: o.serverCpuSeconds,
    databaseCpuSeconds: o.databaseCpuSeconds,
    clientCpuSeconds: o.clientCpuSeconds,
    serverRssMiB: o.serverRssMiB,
    databaseRssMiB: o.databaseRssMiB,
  };
}

/**
 * One file's upload into a user's file area by the operator and its download, against a raw
 * file-stream copy of the same bytes on the same disk; the memory of server and database throughout.
 */
async function timeFiles(
  server: RunningServer,
  pids: Pids,
  seed: SeededYear,
  workDir: string,
  loginMs: number[],
): Promise<object> {
  log(`writing a ${FILE_MIB} MiB source file …`);
  const file = path.join(workDir, 'source.bin');
  const sha256 = await writeSource(file, FILE_MIB);
  log('raw file copy …');
  const copy = await copyFile(file, path.join(workDir, 'copy.bin'));

  log('upload and download through KIS …');
  const session = await timedLogin(server, loginMs);
  const owner = pick(seed.users, 0);
  const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
  const rss = (pid: number | undefined): Promise<number> => (pid ? rssMib(pid) : Promise.resolve(0));
  const before = { server: await rss(pids.server), database: await rss(pids.database) };

  let serverWatch = watchPeak(pids.server);
  let databaseWatch = pids.database ? watchPeak(pids.database) : undefined;
  const name = encodeURIComponent(`Baupläne ${FILE_MIB} MiB.bin`);
  const sent = await upload(`${server.url}/api/files?name=${name}&userId=${owner.id}`, file, headers);
  const maxUpload = { server: await serverWatch.stop(), database: (await databaseWatch?.stop()) ?? 0 };
  const stored = JSON.parse(sent.body) as { id: string; size: number; sha256: string };
  if (stored.size !== FILE_MIB * MiB || stored.sha256 !== sha256)
    throw new Error(`the server stored ${stored.size} bytes with sha256 ${stored.sha256}, not the file sent`);

  serverWatch = watchPeak(pids.server);
  databaseWatch = pids.database ? watchPeak(pids.database) : undefined;
  const got = await download(`${server.url}/api/files/${stored.id}`, { cookie: session.cookie });
  const maxDownload = { server: await serverWatch.stop(), database: (await databaseWatch?.stop()) ?? 0 };
  if (got.bytes !== FILE_MIB * MiB || got.sha256 !== sha256)
    throw new Error(`downloaded ${got.bytes} bytes with sha256 ${got.sha256}, not the file uploaded`);

  const removed = await request('DELETE', `${server.url}/api/files/${stored.id}`, headers);
  if (removed.status !== 200) throw new Error(`delete: ${removed.status} ${removed.body}`);
  await sleep(1000);
  const after = { server: await rss(pids.server), database: await rss(pids.database) };
  await rm(file, { force: true });

  const memory = (which: 'server' | 'database'): object => ({
    before: before[which],
    maxUpload: maxUpload[which],
    maxDownload: maxDownload[which],
    after: after[which],
    growth: round1(Math.max(maxUpload[which], maxDownload[which]) - before[which]),
  });
  const fileCopy = mibPerSecond(copy);
  const up = mibPerSecond({ bytes: stored.size, ms: sent.ms });
  const down = mibPerSecond(got);
  log(`  copy ${fileCopy} MiB/s; KIS ↑${up} ↓${down} MiB/s`);
  return {
    fileMiB: FILE_MIB,
    fileCopy: {
      what: 'fs.createReadStream → fs.createWriteStream in the same temporary directory',
      mibPerSecond: fileCopy,
    },
    upload: {
      what: "POST /api/files?userId=…: the operator uploads into a user's file area (session, quota, sha256, storage)",
      mibPerSecond: up,
      shareOfFileCopy: round2(up / fileCopy),
    },
    download: {
      what: 'GET /api/files/:id streamed, hashed by the client',
      mibPerSecond: down,
      shareOfFileCopy: round2(down / fileCopy),
    },
    sha256Verified: true,
    serverRssMiB: memory('server'),
    ...(pids.database ? { databaseRssMiB: memory('database') } : {}),
  };
}

async function main(): Promise<void> {
  const loadAtStart = round2(os.loadavg()[0] ?? 0);
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-volume-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  const uri = `${mongoBase}kis_bench_${randomBytes(4).toString('hex')}`;
  let server: RunningServer | undefined;
  const stopAll = async (): Promise<void> => {
    // stopServer waits for the exit (and removes the data dir): a server that died has nothing left to stop.
    if (server && server.child.exitCode === null && server.child.signalCode === null) await stopServer(server);
    // An external database keeps its data: this run's database goes with the run.
    if (db.kind === 'external') {
      const client = new MongoClient(uri, { directConnection: true });
      await client
        .db()
        .dropDatabase()
        .catch(() => undefined);
      await client.close().catch(() => undefined);
    }
    await db.stop();
    for (const dir of [dbDir, workDir, dataDir]) await rm(dir, { recursive: true, force: true });
  };
  let cleaning: Promise<void> | undefined;
  const cleanUp = (): Promise<void> => (cleaning ??= stopAll());
  // Ctrl-C or a kill stops the server and the database too, not only an error.
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the server and the database …`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const seed = await seedYear(uri, dataDir, SIZE);
    const databaseFileMiB = db.kind === 'external' ? null : await dirMib(path.join(dbDir, 'db'));
    log(`seeded in ${seed.seconds} s; the database holds ${databaseFileMiB ?? '?'} MiB`);

    log('starting KIS on the seeded year …');
    const s0 = performance.now();
    server = await startServer(
      mongoBase,
      {
        MONGODB_URI: uri,
        // Where the default install keeps file bytes: on the disk beside the embedded database,
        // in GridFS on a MongoDB named by MONGODB_URI.
        KIS_FILE_STORE: db.kind === 'external' ? 'database' : 'disk',
        KIS_BCRYPT_COST: '4',
        KIS_FILE_MAX_MB: String(Math.max(4096, FILE_MIB)),
        KIS_FILE_QUOTA_MB: String(Math.max(8192, 2 * FILE_MIB)),
      },
      dataDir,
    );
    const serverStartSeconds = round1((performance.now() - s0) / 1000);
    log(`  listening after ${serverStartSeconds} s`);
    const pids: Pids = { server: server.child.pid ?? 0, database: db.pid };
    if (!pids.server) throw new Error('the server has no process id');
    const a0 = performance.now();
    await adminSession(server);
    const adminSetupMs = Math.round(performance.now() - a0);

    // Background work (jobs at start, a reconciliation every minute) would load the database under
    // every figure: what server and database do while nobody asks anything shows it.
    const idle = await observed(pids, async () => {
      const t0 = performance.now();
      await sleep(IDLE_S * 1000);
      return { t0, firstRowsAt: t0, endAt: performance.now() };
    });
    const idleCpu = {
      what: `CPU of server and database over ${IDLE_S} s without requests, after the admin's set-up (share of one core)`,
      server: round2(idle.serverCpuSeconds / IDLE_S),
      database: round2(idle.databaseCpuSeconds / IDLE_S),
    };
    log(`idle: server ${idleCpu.server}, database ${idleCpu.database} of a core`);

    const loginMs: number[] = [];
    const pages = await timePages(server, seed, loginMs);
    const exports = await timeExports(server, pids, seed, loginMs);
    const files = await timeFiles(server, pids, seed, workDir, loginMs);

    const below = (ms: number, limit: number): boolean => ms < limit;
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'volume',
          machine: {
            cpus: os.cpus().length,
            node: process.version,
            // Other work on the machine competes with server and database for the same cores.
            loadAverage1mAtStart: loadAtStart,
            loadAverage1mAtEnd: round2(os.loadavg()[0] ?? 0),
          },
          database: db.kind,
          workload: {
            what:
              `a year ending now: ${SIZE.organizations} companies with ${SIZE.users} users, ${SIZE.depots} depots ` +
              `with ${seed.entriesPerDepot} history entries each (depot events, 5 kinds, 8 compartments, in time ` +
              `order across the fleet), ${SIZE.audit} audit entries in one hash chain, ${SIZE.invoices} invoices; ` +
              `pages timed as the operator (admin) over HTTP, up to ${SAMPLES} samples or ${BUDGET_S} s per series`,
            ...SIZE,
            historyEntries: seed.entriesPerDepot * SIZE.depots,
            samples: SAMPLES,
            budgetSeconds: BUDGET_S,
          },
          seeding: {
            what:
              "insertMany through the server's mongoose models' collections, unordered, " +
              `${SIZE.batch} documents a batch, indexes made first; the first document of each kind checked ` +
              "against the model's schema; the audit chain checked by the audit module's verifier",
            seconds: seed.seconds,
            ...seed.collections,
            auditChain: seed.auditChain,
            databaseFileMiB,
          },
          serverStartSeconds,
          adminSetupMs,
          idleCpu,
          login: {
            what: 'POST /api/auth/login before each step (a fresh session; each login appends to the audit log)',
            ...stats(loginMs),
            samples: loginMs.length,
          },
          pages,
          exports,
          files,
          targets: {
            what: "issue 18's goals, checked against this run",
            historyNewestP95Below100ms: below(pages.historyNewest.p95, 100),
            historyFilteredP95Below100ms: below(pages.historyFiltered.p95, 100),
            auditPageP95Below100ms: below(pages.auditPage.p95, 100),
            userSearchP95Below100ms: below(pages.userSearch.p95, 100),
            depotYearFirstByteBelow1s: below(exports.depotYear.firstByteMs, 1000),
            fleetMonthFirstByteBelow1s: below(exports.fleetMonth.firstByteMs, 1000),
            // The first byte is the CSV's heading, sent before any row is read: the first row says
            // how soon the database delivers.
            depotYearFirstRowBelow1s: below(exports.depotYear.firstRowsMs, 1000),
            fleetMonthFirstRowBelow1s: below(exports.fleetMonth.firstRowsMs, 1000),
          },
          serverWarnings: serverWarnings(server.stderr()),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}

await main();
