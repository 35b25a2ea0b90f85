/**
 * Benchmark: export of a depot's history (1,000,000 events by default) as CSV and as PDF through
 * `GET /api/depots/:id/history/export`: rows per second end to end and once the rows flow, time to
 * the first byte and to the first rows, output size, CPU of server and database, and the resident
 * memory of both while the rows stream, which must stay flat for the server whatever the row count.
 * Beside it, in the same run, the ceiling: the same count and query through the mongodb driver
 * with nothing made of the rows. The events are seeded straight into `depot_history` (the seeding
 * rate is reported too). Both formats are exported by the same server process, CSV first: the
 * PDF's `before` is what the CSV left. Prints one JSON object.
 *
 *   npm run bench:exports [-- --rows 1000000 --runs 1 --formats csv,pdf --batch 10000]
 *
 * Talks to 127.0.0.1 only. Needs the database's share of disk (about 0.5 GiB per million rows
 * in FerretDB/SQLite) and the PDF's size in the temporary directory; `pdfinfo` (poppler), when
 * installed, checks the PDF's page count.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { provisionDatabase } from '../../server/src/db/provision.js';
import {
  adminSession,
  countNewlines,
  depotEvent,
  dirMib,
  insertInBatches,
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
import { CLOCK_TICKS, SAMPLE_MS, observed, type Pids, type RssRun } from './process-watch.js';

const FORMATS = ['csv', 'pdf'] as const;
type Format = (typeof FORMATS)[number];

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '1' },
    formats: { type: 'string', default: FORMATS.join(',') },
    batch: { type: 'string', default: '10000' },
  },
});
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
const BATCH = Number(values.batch);
const CHOSEN = values.formats.split(',').map((f) => f.trim());
if (!Number.isInteger(ROWS) || ROWS < 1) throw new Error('--rows must be a whole number, at least 1');
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a whole number, at least 1');
if (!Number.isInteger(BATCH) || BATCH < 1 || BATCH > 100_000)
  throw new Error('--batch must be a whole number from 1 to 100000');
if (CHOSEN.length === 0 || !CHOSEN.every((f): f is Format => (FORMATS as readonly string[]).includes(f)))
  throw new Error(`--formats must be a comma-separated list of ${FORMATS.join(', ')}`);
const EXPORT_FORMATS = CHOSEN as Format[];

const MiB = 1024 * 1024;
/** What the server reads per round trip (EXPORT_BATCH in depots/service.ts): the ceiling reads alike. */
const CURSOR_BATCH = 1000;
/** The seeded events are this far apart, ending now: a depot busy for about a year per million. */
const EVENT_SPACING_MS = 30_000;
const run = promisify(execFile);
const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Registers a depot through the API, as an operator does; its id. */
async function registerDepot(server: RunningServer, session: Session): Promise<string> {
  const res = await fetch(`${server.url}/api/depots`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: session.cookie, 'x-csrf-token': session.csrfToken },
    // The depot never comes online: a day's heartbeat keeps the server from logging it offline.
    body: JSON.stringify({
      name: 'Depot Benchmark',
      location: 'Hamburg, Tor 3',
      compartments: 8,
      heartbeatSeconds: 86_400,
    }),
  });
  if (!res.ok) throw new Error(`POST /api/depots: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { depot: { depotId: string } }).depot.depotId;
}

/** Writes `ROWS` events in batches of `BATCH`, unordered, oldest first, the newest now; how long it took. */
async function seed(client: MongoClient, depotId: string): Promise<{ seconds: number }> {
  const start = Date.now() - (ROWS + 1) * EVENT_SPACING_MS;
  // The depot was registered just now; its seeded history begins before that.
  await client
    .db()
    .collection<{ _id: string }>('depots')
    .updateOne({ _id: depotId }, { $set: { historyFrom: new Date(start) } });
  return insertInBatches(
    client.db().collection('depot_history'),
    ROWS,
    BATCH,
    (i) => depotEvent(depotId, i + 1, new Date(start + (i + 1) * EVENT_SPACING_MS)),
    'rows',
  );
}

/** What one export (or the ceiling's read) measured. */
interface RunResult {
  rows: number;
  rowsPerSecond: number;
  seconds: number;
  /** Request sent → response headers (node:http sends them with the first bytes of the body). */
  headersMs?: number;
  /** Ceiling only: a count of the export's rows through the driver (what the server made before its first byte until issue 18). */
  countMs?: number;
  /** Request sent → the first byte of the body. */
  firstByteMs: number;
  /**
   * Request sent → the first rows: the CSV's first row, the PDF's first full page (pdfkit sends its
   * file header before any row is read, so the PDF's first byte says little).
   */
  firstRowsMs: number;
  /** Rows per second from the first rows to the last byte: the pipeline once the database delivers. */
  streamingRowsPerSecond: number;
  outputMiB: number;
  serverCpuSeconds: number;
  databaseCpuSeconds: number;
  /** This benchmark's own process: a saturated client would show here. */
  clientCpuSeconds: number;
  serverRssMiB: RssRun;
  databaseRssMiB: RssRun;
  /**
   * The server's V8 heap and the memory V8 knows of outside it (from its /metrics), one second
   * after the last byte: what of the resident memory JavaScript objects account for.
   */
  serverHeapMiB?: { used: number; total: number; external: number };
  /** CSV: lines received (rows + the heading). */
  lines?: number;
  /** PDF: pages found by scanning for `/Type /Page`, and as `pdfinfo` counts them (null without it). */
  pages?: number;
  pagesByPdfinfo?: number | null;
  rowsPerPage?: number;
}

/**
 * Counts the page objects of a PDF as it streams (`/Type /Page` not followed by `s`, which is the
 * page tree); pdfkit compresses the content streams, so the text cannot be found in them.
 */
function pageCounter(): { feed: (chunk: Buffer) => void; readonly pages: number } {
  const needle = Buffer.from('/Type /Page');
  let carry = Buffer.alloc(0);
  let pages = 0;
  return {
    feed(chunk) {
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      // A match needs the byte after it to be decided; one that ends the buffer waits for the next.
      const last = buf.length - needle.length - 1;
      for (let i = buf.indexOf(needle); i !== -1 && i <= last; i = buf.indexOf(needle, i + 1)) {
        if (buf[i + needle.length] !== 0x73) pages++;
      }
      carry = Buffer.from(buf.subarray(Math.max(0, buf.length - needle.length)));
    },
    get pages() {
      return pages;
    },
  };
}

/** The server's V8 heap (used, total) and external memory from its /metrics, which loopback may read. */
async function serverHeap(server: RunningServer): Promise<{ used: number; total: number; external: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (name: string): number =>
    round1(Number(new RegExp(`^kis_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / MiB);
  return {
    used: value('heap_size_used_bytes'),
    total: value('heap_size_total_bytes'),
    external: value('external_memory_bytes'),
  };
}

/**
 * One export as a browser downloads it: GET with the session cookie, the body streamed and counted
 * (CSV lines, PDF pages), the PDF kept on disk for `pdfinfo`. The time runs from the request to
 * the last byte.
 */
async function exportOnce(
  server: RunningServer,
  pids: Pids,
  depotId: string,
  format: Format,
  expectedRows: number,
  workDir: string,
): Promise<RunResult> {
  const session = await login(server.url);
  const query = format === 'csv' ? 'format=csv&delimiter=%3B' : 'format=pdf';
  const url = `${server.url}/api/depots/${depotId}/history/export?${query}`;
  const pdfFile = path.join(workDir, 'export.pdf');
  const measured = await observed(pids, async () => {
    const t0 = performance.now();
    const req = http.get(url, { agent: false, headers: { cookie: session.cookie } });
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const headersAt = performance.now();
    if (res.statusCode !== 200) throw new Error(`${format} export: ${res.statusCode} ${await readText(res)}`);
    let firstByteAt = 0;
    let firstRowsAt = 0;
    let bytes = 0;
    let lines = 0;
    let head: Buffer | undefined;
    let tail = Buffer.alloc(0);
    const pages = pageCounter();
    const file = format === 'pdf' ? createWriteStream(pdfFile) : undefined;
    let nextLog = performance.now() + 10_000;
    for await (const data of res) {
      const chunk = data as Buffer;
      if (!firstByteAt) firstByteAt = performance.now();
      head ??= Buffer.from(chunk.subarray(0, 3));
      bytes += chunk.length;
      if (format === 'csv') {
        lines += countNewlines(chunk);
        tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - 2)));
      } else {
        pages.feed(chunk);
        if (file && !file.write(chunk)) await once(file, 'drain');
      }
      if (!firstRowsAt && (format === 'csv' ? lines >= 2 : pages.pages >= 1)) firstRowsAt = performance.now();
      if (performance.now() > nextLog) {
        nextLog = performance.now() + 10_000;
        const progress = format === 'csv' ? `${lines} lines` : `${pages.pages} pages`;
        log(
          `  ${format}: ${progress}, ${round1(bytes / MiB)} MiB after ${Math.round((performance.now() - t0) / 1000)} s`,
        );
      }
    }
    const endAt = performance.now();
    if (file) {
      file.end();
      await once(file, 'finish');
    }
    if (!res.complete) throw new Error(`${format} export: the body ended early after ${bytes} bytes`);
    if (format === 'csv') {
      if (head?.toString('hex') !== 'efbbbf') throw new Error('the CSV does not start with a UTF-8 byte-order mark');
      // The heading and every row end in CRLF.
      if (tail.toString() !== '\r\n' || lines !== expectedRows + 1)
        throw new Error(`the CSV has ${lines} lines, not ${expectedRows} rows and a heading`);
    } else if (head?.toString() !== '%PD') {
      throw new Error('the PDF does not start with %PDF');
    }
    return {
      t0,
      headersAt,
      firstByteAt: firstByteAt || endAt,
      firstRowsAt: firstRowsAt || endAt,
      endAt,
      bytes,
      lines,
      pages: pages.pages,
    };
  });
  const seconds = (measured.endAt - measured.t0) / 1000;
  let extra: Partial<RunResult> = { serverHeapMiB: await serverHeap(server) };
  if (format === 'csv') {
    extra = { ...extra, lines: measured.lines };
  } else {
    const pagesByPdfinfo = await run('pdfinfo', [pdfFile]).then(
      ({ stdout }) => Number(/^Pages:\s+(\d+)/m.exec(stdout)?.[1] ?? NaN),
      () => null,
    );
    await rm(pdfFile, { force: true });
    if (pagesByPdfinfo !== null && pagesByPdfinfo !== measured.pages)
      throw new Error(`pdfinfo counts ${pagesByPdfinfo} pages, the scan ${measured.pages}`);
    extra = { ...extra, pages: measured.pages, pagesByPdfinfo, rowsPerPage: round1(expectedRows / measured.pages) };
  }
  return {
    rows: expectedRows,
    rowsPerSecond: Math.round(expectedRows / seconds),
    seconds: round1(seconds),
    headersMs: Math.round(measured.headersAt - measured.t0),
    firstByteMs: Math.round(measured.firstByteAt - measured.t0),
    firstRowsMs: Math.round(measured.firstRowsAt - measured.t0),
    streamingRowsPerSecond: Math.round(expectedRows / ((measured.endAt - measured.firstRowsAt) / 1000)),
    outputMiB: round1(measured.bytes / MiB),
    serverCpuSeconds: measured.serverCpuSeconds,
    databaseCpuSeconds: measured.databaseCpuSeconds,
    clientCpuSeconds: measured.clientCpuSeconds,
    serverRssMiB: measured.serverRssMiB,
    databaseRssMiB: measured.databaseRssMiB,
    ...extra,
  };
}

/**
 * The ceiling: the server's query (filter, sort, batch size) read through the mongodb driver,
 * each document decoded and dropped. No export can be faster than its rows come out of the database.
 */
async function cursorOnce(client: MongoClient, pids: Pids, depotId: string, expectedRows: number): Promise<RunResult> {
  const collection = client.db().collection('depot_history');
  const c0 = performance.now();
  const counted = await collection.countDocuments({ depotId });
  const countMs = Math.round(performance.now() - c0);
  if (counted !== expectedRows) throw new Error(`the count gave ${counted} rows, not ${expectedRows}`);
  const measured = await observed(pids, async () => {
    const t0 = performance.now();
    const cursor = collection.find({ depotId }).sort({ at: 1, _id: 1 }).batchSize(CURSOR_BATCH);
    let firstByteAt = 0;
    let rows = 0;
    for await (const doc of cursor) {
      if (!firstByteAt) firstByteAt = performance.now();
      if (doc.depotId === depotId) rows++;
    }
    const endAt = performance.now();
    if (rows !== expectedRows) throw new Error(`the cursor gave ${rows} rows, not ${expectedRows}`);
    return { t0, firstRowsAt: firstByteAt || endAt, endAt };
  });
  const seconds = (measured.endAt - measured.t0) / 1000;
  return {
    rows: expectedRows,
    rowsPerSecond: Math.round(expectedRows / seconds),
    seconds: round1(seconds),
    countMs,
    firstByteMs: Math.round(measured.firstRowsAt - measured.t0),
    firstRowsMs: Math.round(measured.firstRowsAt - measured.t0),
    streamingRowsPerSecond: Math.round(expectedRows / ((measured.endAt - measured.firstRowsAt) / 1000)),
    outputMiB: 0,
    serverCpuSeconds: measured.serverCpuSeconds,
    databaseCpuSeconds: measured.databaseCpuSeconds,
    clientCpuSeconds: measured.clientCpuSeconds,
    serverRssMiB: measured.serverRssMiB,
    databaseRssMiB: measured.databaseRssMiB,
  };
}

/** The median over runs of every number in the results (with one run: that run). */
function summarize(results: RunResult[]): unknown {
  const merge = (items: unknown[]): unknown => {
    const [head] = items;
    if (typeof head === 'number') return stats(items as number[]).median;
    if (Array.isArray(head)) return head.map((_, i) => merge(items.map((x) => (x as unknown[])[i] ?? 0)));
    if (head && typeof head === 'object') {
      const keys = new Set(items.flatMap((i) => Object.keys(i as object)));
      return Object.fromEntries(
        [...keys].map((k) => [k, merge(items.map((i) => (i as Record<string, unknown>)[k] ?? 0))]),
      );
    }
    return head ?? null;
  };
  return RUNS === 1 ? results[0] : { ...(merge(results) as object), runs: results };
}

/** One result as a progress line. */
function progressLine(label: string, r: RunResult): string {
  return (
    `  ${label}: ${r.rowsPerSecond} rows/s (${r.seconds} s, first byte ${r.firstByteMs} ms, first rows ` +
    `${r.firstRowsMs} ms, then ${r.streamingRowsPerSecond} rows/s, ${r.outputMiB} MiB); ` +
    `server RSS ${r.serverRssMiB.before} → peak ${r.serverRssMiB.peak} (quarters ${r.serverRssMiB.peakByQuarter.join('/')}) ` +
    `→ ${r.serverRssMiB.after} MiB, CPU ${r.serverCpuSeconds} s; database RSS ${r.databaseRssMiB.before} → peak ` +
    `${r.databaseRssMiB.peak} → ${r.databaseRssMiB.after} MiB, CPU ${r.databaseCpuSeconds} s`
  );
}

async function main(): Promise<void> {
  const loadAtStart = round2(os.loadavg()[0] ?? 0);
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-exports-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  const uri = `${mongoBase}kis_bench_${randomBytes(4).toString('hex')}`;
  let server: RunningServer | undefined;
  const client = new MongoClient(uri, { directConnection: true });
  const stopAll = async (): Promise<void> => {
    // An external database keeps its data: this run's database goes with the run.
    if (db.kind === 'external')
      await client
        .db()
        .dropDatabase()
        .catch(() => undefined);
    await client.close().catch(() => undefined);
    // stopServer waits for the exit: a server that already died has nothing left to stop.
    if (server && server.child.exitCode === null && server.child.signalCode === null) await stopServer(server);
    else if (server) await rm(server.dataDir, { recursive: true, force: true });
    await db.stop();
    await rm(dbDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  };
  // Once only: a signal and the operation it interrupts (which then fails) both come here.
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
    log('starting KIS …');
    server = await startServer(mongoBase, { MONGODB_URI: uri, KIS_BCRYPT_COST: '4' });
    const pids: Pids = { server: server.child.pid ?? 0, database: db.pid };
    if (!pids.server) throw new Error('the server has no process id');
    const depotId = await registerDepot(server, await adminSession(server));
    await client.connect();

    log(`seeding ${ROWS} events in batches of ${BATCH} …`);
    const seeded = await seed(client, depotId);
    // Registration may have written entries of its own: the export holds them too.
    const expectedRows = await client.db().collection('depot_history').countDocuments({ depotId });
    if (expectedRows < ROWS) throw new Error(`only ${expectedRows} of ${ROWS} rows are stored`);
    const databaseFileMiB = db.kind === 'external' ? null : await dirMib(path.join(dbDir, 'db'));
    log(`  ${ROWS} rows in ${round1(seeded.seconds)} s; the database holds ${databaseFileMiB ?? '?'} MiB`);

    const results: { cursor: RunResult[] } & Partial<Record<Format, RunResult[]>> = { cursor: [] };
    for (let i = 1; i <= RUNS; i++) {
      log(`run ${i}/${RUNS}: the query through the mongodb driver (ceiling) …`);
      results.cursor.push(await cursorOnce(client, pids, depotId, expectedRows));
      log(progressLine('cursor', results.cursor.at(-1) as RunResult));
      for (const format of EXPORT_FORMATS) {
        log(`run ${i}/${RUNS}: ${format} export of ${expectedRows} rows …`);
        const result = await exportOnce(server, pids, depotId, format, expectedRows, workDir);
        (results[format] ??= []).push(result);
        log(progressLine(format, result));
      }
    }

    const median = (xs: number[]): number => stats(xs).median;
    const ofFormat = (format: Format, what: string): object | undefined => {
      const runs = results[format];
      if (!runs) return undefined;
      const rate = median(runs.map((r) => r.rowsPerSecond));
      return {
        what,
        ...(summarize(runs) as object),
        shareOfCursor: round2(rate / median(results.cursor.map((r) => r.rowsPerSecond))),
        microsecondsPerRow: {
          server: round1((median(runs.map((r) => r.serverCpuSeconds)) * 1e6) / expectedRows),
          database: round1((median(runs.map((r) => r.databaseCpuSeconds)) * 1e6) / expectedRows),
        },
      };
    };
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'exports',
          machine: {
            cpus: os.cpus().length,
            node: process.version,
            clockTicksPerSecond: CLOCK_TICKS,
            // Other work on the machine competes with server and database for the same cores.
            loadAverage1mAtStart: loadAtStart,
            loadAverage1mAtEnd: round2(os.loadavg()[0] ?? 0),
          },
          database: db.kind,
          workload: {
            what:
              `one depot with ${expectedRows} history rows (${ROWS} seeded depot events: 5 kinds, 8 compartments, ` +
              'a short note with umlauts on every 4th), exported unfiltered, oldest first, as an admin; ' +
              'time = request sent until the last byte received, the body streamed and counted by the client ' +
              `(one process, agent off); memory = VmRSS from /proc every ${SAMPLE_MS} ms, CPU = utime+stime ` +
              'from /proc/<pid>/stat over the export; firstRowsMs = until the first CSV row or the first full PDF ' +
              'page, streamingRowsPerSecond = the rows over the time from then to the last byte',
            rows: expectedRows,
            runs: RUNS,
          },
          seeding: {
            what: `insertMany of ${BATCH} documents, ordered: false, one batch at a time, through the mongodb driver`,
            rows: ROWS,
            seconds: round1(seeded.seconds),
            rowsPerSecond: Math.round(ROWS / seeded.seconds),
            databaseFileMiB,
          },
          ceiling: {
            what:
              `the server's query ({depotId}, sort {at: 1, _id: 1}, batches of ${CURSOR_BATCH}) read ` +
              'through the mongodb driver by this process, each document decoded and dropped; countMs = a count ' +
              'of the same rows ({depotId}), timed alone before it: the server made it before its first byte ' +
              'until issue 18 and no longer does',
            ...(summarize(results.cursor) as object),
          },
          csv: ofFormat(
            'csv',
            'GET …/history/export?format=csv&delimiter=%3B: cursor (no count first), time formatted per row ' +
              '(Europe/Berlin), csv-stringify with BOM and CRLF, lines counted by the client',
          ),
          pdf: ofFormat(
            'pdf',
            'GET …/history/export?format=pdf: cursor, pdfkit A4 landscape table (every cell fitted to its ' +
              'column), pages counted in the stream and by pdfinfo from the file written by the client',
          ),
          // Node's warnings are the first sign of a leak (listeners piling up, say): they belong beside the numbers.
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
