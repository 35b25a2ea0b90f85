/**
 * Runs every benchmark under scripts/bench, one after another, and writes what they printed into
 * BENCHMARKS.md: the machine, each benchmark's method and its figures beside the in-run references
 * (bare dgram loop, raw bcrypt, raw file stream, Hocuspocus), and the full JSON of each run.
 *
 *   npm run bench                # a few minutes: smaller workloads, several runs where they help
 *   npm run bench -- --full      # the long version (the issues' sizes: 1 GiB files, 1,000,000 rows, …)
 *   npm run bench -- --only files,legacy
 *   npm run bench -- --json > run.json   # print the run as JSON instead of the table
 *   npm run bench -- --from run.json     # rewrite BENCHMARKS.md from such a run
 *
 * Talks to 127.0.0.1 only. Run it on a quiet machine: other work shares the cores and moves the figures.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, log } from './common.js';

interface Bench {
  name: string;
  script: string;
  /** What it measures, in one line, for the table. */
  method: string;
  quick: string[];
  full: string[];
  gc?: boolean;
  /**
   * The figures worth a row: a label, the path to KIS's value, the path to the in-run reference,
   * and how the samples spread (`{path}` placeholders, e.g. 'p90 {kis.rttMs.p90} · p99 {kis.rttMs.p99}').
   */
  figures: Array<{ label: string; value: string; reference?: string; unit: string; spread?: string }>;
}

const BENCHES: Bench[] = [
  {
    name: 'sessions',
    script: 'session-login.ts',
    method: 'session check per request, and logins per second against raw bcrypt (cost 12) in the same run',
    quick: [],
    full: [],
    figures: [
      {
        label: 'session check, median',
        value: 'sessionCheck.medianUs',
        unit: 'µs',
        spread: 'p90 {sessionCheck.p90Us} · p99 {sessionCheck.p99Us}',
      },
      { label: 'session check, p99', value: 'sessionCheck.p99Us', unit: 'µs' },
      {
        label: 'authenticated HTTP request, median',
        value: 'httpAccount.medianUs',
        unit: 'µs',
        spread: 'p90 {httpAccount.p90Us}',
      },
      {
        label: 'logins/s (highest level)',
        value: 'login.levels.-1.loginsPerSecond',
        reference: 'login.levels.-1.bcryptComparesPerSecond',
        unit: '/s',
      },
    ],
  },
  {
    name: 'actors',
    script: 'depot-actors.ts',
    method: 'memory and start time of depot actors (XState), all online',
    quick: ['--actors', '20000'],
    full: ['--actors', '100000'],
    gc: true,
    figures: [
      { label: 'actors', value: 'actors', unit: '' },
      { label: 'heap per actor', value: 'heapKbPerActor', unit: 'KiB' },
      { label: 'start of all actors', value: 'startSeconds', unit: 's' },
    ],
  },
  {
    name: 'depots',
    script: 'depot-telegrams.ts',
    method:
      'UDP telegrams authenticated, stored and acknowledged ({depots} depots, up to {window} unanswered, sealed ahead), against a bare dgram echo driven by the same client; CPU as shares of one core',
    quick: [
      '--depots',
      '1000',
      '--heartbeats',
      '20000',
      '--events',
      '10000',
      '--rate-seconds',
      '3',
      '--browser',
      '100',
    ],
    // 30 s at the fixed rate: over 10 s, how many of the server's rare long pauses fell into the run
    // moved the p99 between 18 and 124 ms.
    full: ['--depots', '10000', '--heartbeats', '200000', '--events', '100000', '--rate-seconds', '30'],
    figures: [
      {
        label: 'heartbeats/s',
        value: 'kis.heartbeats.perSecond',
        reference: 'ceiling.perSecond',
        unit: '/s',
        spread:
          'CPU: server {kis.heartbeats.serverCpu} · database {kis.heartbeats.databaseCpu} · client {kis.heartbeats.clientCpu} (echo run {ceiling.clientCpu})',
      },
      {
        label: 'heartbeats, round trip to ACK, p99',
        value: 'kis.heartbeats.rttMs.p99',
        reference: 'ceiling.rttMs.p99',
        unit: 'ms',
        spread: 'median {kis.heartbeats.rttMs.median} (echo {ceiling.rttMs.median})',
      },
      {
        label: 'events/s',
        value: 'kis.events.perSecond',
        reference: 'ceiling.perSecond',
        unit: '/s',
        spread:
          'p99 {kis.events.rttMs.p99} ms; stored {kis.events.stored}, doubled {kis.events.doubled}; CPU: server {kis.events.serverCpu} · database {kis.events.databaseCpu}',
      },
      {
        label: 'heartbeats at a fixed rate, ACK p99',
        value: 'kis.heartbeatsAtRate.rttMs.p99',
        reference: 'ceilingAtRate.rttMs.p99',
        unit: 'ms',
        spread:
          '{kis.heartbeatsAtRate.what}: {kis.heartbeatsAtRate.perSecond}/s answered, median {kis.heartbeatsAtRate.rttMs.median} ms',
      },
      {
        label: 'telegram to browser, median',
        value: 'telegramToBrowserMs.median',
        unit: 'ms',
        spread: 'p90 {telegramToBrowserMs.p90} · p99 {telegramToBrowserMs.p99}',
      },
      { label: 'telegram to browser, p99', value: 'telegramToBrowserMs.p99', unit: 'ms' },
      {
        label: 'HELLO burst after a restart, all online after',
        value: 'burstAfterRestart.seconds',
        unit: 's',
        spread:
          '{burstAfterRestart.answered} of {depots} answered, lost {burstAfterRestart.lost}; ACK p99 {burstAfterRestart.rttMs.p99} ms; server RSS {burstAfterRestart.serverRssMiB.before} → peak {burstAfterRestart.serverRssMiB.peak} → {burstAfterRestart.serverRssMiB.fiveSecondsAfter} MiB',
      },
    ],
  },
  {
    name: 'files',
    script: 'files.ts',
    method: 'upload and download of one file through the file exchange, against a raw file stream',
    quick: ['--mib', '128', '--runs', '3'],
    full: ['--mib', '1024', '--runs', '3'],
    figures: [
      {
        label: 'upload',
        value: 'kis.upload.mibPerSecond.median',
        reference: 'baseline.httpUpload.mibPerSecond.median',
        unit: 'MiB/s',
      },
      {
        label: 'download',
        value: 'kis.download.mibPerSecond.median',
        reference: 'baseline.httpDownload.mibPerSecond.median',
        unit: 'MiB/s',
      },
    ],
  },
  {
    name: 'documents',
    script: 'documents.ts',
    method: 'editors typing into one shared text: propagation and server CPU, against Hocuspocus',
    quick: ['--editors', '10', '--seconds', '6', '--runs', '2'],
    full: ['--editors', '20', '--seconds', '20', '--runs', '3'],
    figures: [
      {
        label: 'propagation, median',
        value: 'kis.propagationMs.median',
        reference: 'hocuspocus.propagationMs.median',
        unit: 'ms',
        spread: 'p90 {kis.propagationMs.p90} · max {kis.propagationMs.max}',
      },
      {
        label: 'propagation, p99',
        value: 'kis.propagationMs.p99',
        reference: 'hocuspocus.propagationMs.p99',
        unit: 'ms',
      },
      {
        label: 'server CPU per update',
        value: 'kis.serverCpu.usPerUpdate',
        reference: 'hocuspocus.serverCpu.usPerUpdate',
        unit: 'µs',
      },
    ],
  },
  {
    name: 'exports',
    script: 'exports.ts',
    method: 'depot history export as CSV and PDF, streamed, against reading the same rows bare',
    quick: ['--rows', '50000'],
    full: ['--rows', '1000000'],
    figures: [
      { label: 'CSV rows/s', value: 'csv.rowsPerSecond', reference: 'ceiling.rowsPerSecond', unit: '/s' },
      { label: 'PDF rows/s', value: 'pdf.rowsPerSecond', reference: 'ceiling.rowsPerSecond', unit: '/s' },
      { label: 'server RSS growth during the PDF', value: 'pdf.serverRssMiB.growth', unit: 'MiB' },
      { label: 'time to the first byte (CSV)', value: 'csv.firstByteMs', reference: 'ceiling.firstByteMs', unit: 'ms' },
    ],
  },
  {
    name: 'legacy',
    script: 'legacy-import.ts',
    method: 'import of legacy accounts (check, dry run, import, repeat), against a bare insertMany',
    quick: ['--accounts', '10000'],
    full: ['--accounts', '10000'],
    gc: true,
    figures: [
      { label: 'import', value: 'import.ms', reference: 'reference.ms', unit: 'ms' },
      { label: 'repeat (no change)', value: 'repeat.ms', unit: 'ms' },
      { label: 'peak RSS, import', value: 'import.peakRssMb', unit: 'MB' },
    ],
  },
  {
    name: 'engines',
    script: 'engines.ts',
    method:
      "the embedded engines side by side on one history collection: FerretDB on SQLite, on PostgreSQL as it comes, and on PostgreSQL with KIS's index twins (the default); medians",
    quick: ['--entries', '50000'],
    full: ['--entries', '200000'],
    figures: [
      {
        label: "a depot's newest 50, twins",
        value: 'postgresqlWithTwins.newest50Ms',
        reference: 'sqlite.newest50Ms',
        unit: 'ms',
        spread: 'PostgreSQL without twins {postgresql.newest50Ms} ms; {entries} entries',
      },
      {
        label: 'findOne by _id, twins',
        value: 'postgresqlWithTwins.findOneByIdMs',
        reference: 'sqlite.findOneByIdMs',
        unit: 'ms',
        spread: 'PostgreSQL without twins {postgresql.findOneByIdMs} ms',
      },
      {
        label: 'updateOne by _id, twins',
        value: 'postgresqlWithTwins.updateOneByIdMs',
        reference: 'sqlite.updateOneByIdMs',
        unit: 'ms',
        spread: 'PostgreSQL without twins {postgresql.updateOneByIdMs} ms',
      },
      {
        label: 'a kind in a month, twins',
        value: 'postgresqlWithTwins.kindAndMonthMs',
        reference: 'sqlite.kindAndMonthMs',
        unit: 'ms',
      },
      {
        label: 'insertMany, twins',
        value: 'postgresqlWithTwins.insertPerSecond',
        reference: 'sqlite.insertPerSecond',
        unit: '/s',
        spread: 'PostgreSQL without twins {postgresql.insertPerSecond}/s',
      },
    ],
  },
  {
    name: 'states',
    script: 'state-writes.ts',
    method:
      "the depot writer's choices on the embedded default, 10,000 depots: a batch of depot states as one update by _id each (commands of 32), as one insertMany of an entry per state, and as the state log's one page (a binary value); emptying a log by deleteMany against dropping its generation; medians",
    quick: ['--depots', '10000', '--rounds', '5'],
    full: ['--depots', '10000', '--rounds', '9'],
    figures: [
      {
        label: 'states of 1,000 depots, by update',
        value: 'stateByUpdate.batches.-1.statesPerSecond',
        reference: 'stateByAppend.batches.-1.statesPerSecond',
        unit: '/s',
        spread:
          'one batch {stateByUpdate.batches.-1.medianMs} ms by update, {stateByAppend.batches.-1.medianMs} ms appended',
      },
      {
        label: 'states of 1,000 depots, as one page',
        value: 'stateByPage.batches.-1.statesPerSecond',
        reference: 'stateByAppend.batches.-1.statesPerSecond',
        unit: '/s',
        spread:
          'one batch {stateByPage.batches.-1.medianMs} ms as a page, {stateByAppend.batches.-1.medianMs} ms as entries',
      },
      {
        label: "one depot's state, by update",
        value: 'stateByUpdate.batches.0.medianMs',
        reference: 'stateByAppend.batches.0.medianMs',
        unit: 'ms',
      },
      {
        label: 'emptying a log of 20,000 entries, deleteMany',
        value: 'emptyingALogOf20000.deleteManyMs',
        reference: 'emptyingALogOf20000.dropMs',
        unit: 'ms',
        spread:
          'an update command of {updateCommandOfTwiceTheStatements.statements} statements: {updateCommandOfTwiceTheStatements.outcome} within {updateCommandOfTwiceTheStatements.timeoutMs} ms',
      },
    ],
  },
  {
    name: 'volume',
    script: 'volume.ts',
    method:
      "a year of a depot fleet seeded into the database, then pages, CSV exports and a file through the HTTP API as the operator (issue 18's goals: p95 < 100 ms, first byte < 1 s, files ≥ 0.5 × a raw file stream)",
    // Quick: a tenth of the fleet and its year, seeded in about a minute; each page series stops after 60 s.
    quick: [
      ...['--depots', '100', '--entries', '200000', '--audit', '10000', '--invoices', '1000'],
      ...['--users', '1000', '--organizations', '10', '--mib', '100', '--budget', '60'],
    ],
    full: [
      ...['--depots', '1000', '--entries', '2000000', '--audit', '100000', '--invoices', '10000'],
      ...['--users', '10000', '--organizations', '100', '--mib', '1024', '--budget', '600'],
    ],
    figures: [
      {
        label: 'seeding, history entries',
        value: 'seeding.history.perSecond',
        unit: '/s',
        spread: '{workload.historyEntries} entries; everything in {seeding.seconds} s, {seeding.databaseFileMiB} MiB',
      },
      { label: 'server start on the year', value: 'serverStartSeconds', unit: 's' },
      {
        label: 'history page (newest 50), p95',
        value: 'pages.historyNewest.p95',
        unit: 'ms',
        spread: 'median {pages.historyNewest.median} · p99 {pages.historyNewest.p99} (n={pages.historyNewest.samples})',
      },
      {
        label: 'history page (a kind in a month), p95',
        value: 'pages.historyFiltered.p95',
        unit: 'ms',
        spread:
          'median {pages.historyFiltered.median} · p99 {pages.historyFiltered.p99} (n={pages.historyFiltered.samples})',
      },
      {
        label: 'audit log page, p95',
        value: 'pages.auditPage.p95',
        unit: 'ms',
        spread: 'median {pages.auditPage.median} · p99 {pages.auditPage.p99} (n={pages.auditPage.samples})',
      },
      {
        label: 'user search, p95',
        value: 'pages.userSearch.p95',
        unit: 'ms',
        spread: 'median {pages.userSearch.median} · p99 {pages.userSearch.p99} (n={pages.userSearch.samples})',
      },
      {
        label: "CSV of one depot's year, first byte",
        value: 'exports.depotYear.firstByteMs',
        unit: 'ms',
        spread:
          '{exports.depotYear.rows} rows in {exports.depotYear.seconds} s, {exports.depotYear.rowsPerSecond} rows/s; server RSS +{exports.depotYear.serverRssMiB.growth} MiB',
      },
      {
        label: "CSV of the fleet's last month, first byte",
        value: 'exports.fleetMonth.firstByteMs',
        unit: 'ms',
        spread:
          '{exports.fleetMonth.rows} rows of {exports.fleetMonth.depots} depots in {exports.fleetMonth.seconds} s (complete: {exports.fleetMonth.complete}); server RSS +{exports.fleetMonth.serverRssMiB.growth} MiB',
      },
      {
        label: 'file upload',
        value: 'files.upload.mibPerSecond',
        reference: 'files.fileCopy.mibPerSecond',
        unit: 'MiB/s',
        spread: '{files.fileMiB} MiB; server RSS +{files.serverRssMiB.growth} MiB',
      },
      {
        label: 'file download',
        value: 'files.download.mibPerSecond',
        reference: 'files.fileCopy.mibPerSecond',
        unit: 'MiB/s',
      },
    ],
  },
  {
    name: 'load',
    script: 'load.ts',
    method:
      'a depot fleet (a heartbeat each per minute, key movements on top, repeats until acknowledged) and dashboard tabs watching it, for minutes: latency, books, memory',
    // Three minutes: the first is warm-up, memory is compared between the second and the last.
    quick: ['--depots', '1000', '--tabs', '100', '--minutes', '3'],
    full: ['--depots', '10000', '--tabs', '1000', '--minutes', '10'],
    figures: [
      { label: 'depots / tabs / minutes', value: 'depots', reference: 'tabs', unit: 'minutes: {minutes}' },
      {
        label: 'telegram to browser, median',
        value: 'telegramToBrowserMs.median',
        unit: 'ms',
        spread: 'p90 {telegramToBrowserMs.p90} · p99 {telegramToBrowserMs.p99} (n={telegramToBrowserMs.samples})',
      },
      {
        label: 'event to ACK, median',
        value: 'eventAckMs.median',
        unit: 'ms',
        spread: 'p90 {eventAckMs.p90} · p99 {eventAckMs.p99}',
      },
      {
        label: 'events acknowledged and lost',
        value: 'books.lost',
        unit: 'of {books.acked} acknowledged; {books.doubled} doubled',
      },
      {
        label: 'server RSS, last minute (median) against minute 2',
        value: 'server.rssMb.lastMinuteMedian',
        reference: 'server.rssMb.secondMinuteMedian',
        unit: 'MB (slope of the second half {server.rssMb.slopeSecondHalfMbPerMin} MB/min)',
      },
      {
        label: 'server heap, last minute (median) against minute 2',
        value: 'server.heapMb.lastMinuteMedian',
        reference: 'server.heapMb.secondMinuteMedian',
        unit: 'MB (slope {server.heapMb.slopeSecondHalfMbPerMin} MB/min)',
      },
      {
        label: 'server CPU',
        value: 'server.cpuShare',
        unit: 'of one core',
        spread:
          'client {clientCpuShare} (its event loop late by p99 {clientEventLoopDelayMs.p99} ms) · database {databaseCpuShare}',
      },
    ],
  },
];

/**
 * What profiles and measurements found, written by hand in scripts/bench/findings.md (tables are
 * written by the runs, the reasons behind them by people): copied in after the tables.
 */
async function findings(): Promise<string[]> {
  const text = await readFile(path.join(ROOT, 'scripts/bench/findings.md'), 'utf8').catch(() => '');
  return text.trim() ? [text.trim(), ''] : [];
}

/** A value at a dotted path; `-1` picks the last element of an array. */
function at(value: unknown, dotted: string): unknown {
  let current = value;
  for (const part of dotted.split('.')) {
    if (Array.isArray(current)) current = part === '-1' ? current[current.length - 1] : current[Number(part)];
    else if (current && typeof current === 'object') current = (current as Record<string, unknown>)[part];
    else return undefined;
  }
  return current;
}

function show(value: unknown): string {
  if (typeof value !== 'number') return value === undefined ? '–' : String(value);
  return new Intl.NumberFormat('en-GB', { maximumFractionDigits: value < 10 ? 2 : value < 1000 ? 1 : 0 }).format(value);
}

/** Runs one benchmark; its stdout is one JSON object, its stderr progress. */
function run(bench: Bench, full: boolean): Promise<{ json: unknown; seconds: number; error?: string }> {
  const args = [
    ...(bench.gc ? ['--expose-gc'] : []),
    '--import',
    'tsx',
    path.join('scripts/bench', bench.script),
    ...(full ? bench.full : bench.quick),
  ];
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (code) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      const start = out.indexOf('{');
      try {
        resolve({ json: JSON.parse(out.slice(start)), seconds, ...(code ? { error: `exit ${code}` } : {}) });
      } catch {
        resolve({ json: null, seconds, error: `exit ${code}; no JSON` });
      }
    });
  });
}

/** One benchmark's outcome as BENCHMARKS.md keeps it. */
interface Result {
  name: string;
  mode: 'quick' | 'full';
  /** When it ran, ISO minute in UTC. */
  at: string;
  seconds: number;
  /** Cores and CPU model of the machine it ran on. */
  machine: string;
  error?: string;
  json: unknown;
}

function thisMachine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}`;
}

/** Fills `{dotted.path}` placeholders from a benchmark's JSON. */
function fill(template: string, json: unknown): string {
  return template.replace(/\{([\w.-]+)\}/g, (_, dotted: string) => show(at(json, dotted)));
}

const OUTPUT_HEADING =
  /^<details><summary>(quick|full) · (\w+) · ([\d-]+ [\d:]+) UTC · (\d+) s · on ([^·<]+?)(?: · (.*))?<\/summary>$/;

/**
 * The results an earlier BENCHMARKS.md holds, read back from its output sections, so that a quick
 * run keeps the last long run's figures (and the other way round) and `--only` keeps the rest.
 */
function previousResults(markdown: string): Result[] {
  const results: Result[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = OUTPUT_HEADING.exec(lines[i] ?? '');
    if (!m) continue;
    const start = lines.indexOf('```json', i);
    const end = lines.indexOf('```', start + 1);
    if (start < 0 || end < 0) continue;
    try {
      results.push({
        mode: m[1] as 'quick' | 'full',
        name: m[2] ?? '',
        at: m[3] ?? '',
        seconds: Number(m[4]),
        machine: m[5] ?? '',
        ...(m[6] ? { error: m[6] } : {}),
        json: JSON.parse(lines.slice(start + 1, end).join('\n')) as unknown,
      });
    } catch {
      // A hand-edited block: dropped, the next run writes it again.
    }
    i = end;
  }
  return results;
}

function table(results: Result[]): string[] {
  const lines = [
    '| benchmark | ran | method | figure | KIS | reference | spread | unit |',
    '|---|---|---|---|---:|---:|---|---|',
  ];
  for (const bench of BENCHES) {
    const r = results.find((x) => x.name === bench.name);
    if (!r) continue;
    if (r.error || !r.json) {
      lines.push(
        `| ${bench.name} | ${r.at}, ${r.machine} | ${bench.method} | **failed: ${r.error ?? 'no output'}** | | | | |`,
      );
      continue;
    }
    for (const [i, f] of bench.figures.entries())
      lines.push(
        `| ${i === 0 ? bench.name : ''} | ${i === 0 ? `${r.at}, ${r.machine}` : ''} | ${i === 0 ? fill(bench.method, r.json) : ''} | ${f.label} | ${show(at(r.json, f.value))} | ${f.reference ? show(at(r.json, f.reference)) : ''} | ${f.spread ? fill(f.spread, r.json) : ''} | ${fill(f.unit, r.json)} |`,
      );
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      from: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const mode = values.full ? 'full' : 'quick';
  const only = values.only?.split(',');
  const chosen = BENCHES.filter((b) => !only || only.includes(b.name));
  const target = path.join(ROOT, 'BENCHMARKS.md');
  const kept = previousResults(await readFile(target, 'utf8').catch(() => ''));
  const fresh: Result[] = [];
  if (values.from) {
    const saved = JSON.parse(await readFile(values.from, 'utf8')) as Array<
      Omit<Result, 'mode' | 'at'> & Partial<Result>
    >;
    for (const r of saved)
      fresh.push({
        mode,
        at: new Date().toISOString().slice(0, 16).replace('T', ' '),
        ...r,
        error: r.error ?? undefined,
      });
  } else {
    for (const bench of chosen) {
      log(`— ${bench.name} (${mode})`);
      const at = new Date().toISOString().slice(0, 16).replace('T', ' ');
      const { json, seconds, error } = await run(bench, values.full === true);
      fresh.push({ name: bench.name, mode, at, seconds, machine: thisMachine(), json, ...(error ? { error } : {}) });
    }
  }
  const all = [...fresh, ...kept.filter((k) => !fresh.some((f) => f.name === k.name && f.mode === k.mode))];
  const ofMode = (m: Result['mode']): Result[] => all.filter((r) => r.mode === m);
  const lines = [
    '# KIS benchmarks',
    '',
    `Written by \`npm run bench\` (\`-- --full\` for the long runs); last written ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    `Last machine: ${thisMachine()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}. Each row names the machine it ran on.`,
    '',
    'Each figure stands beside its in-run reference where the benchmark has one: the same machine and',
    'run, doing the bare work (a dgram echo, raw bcrypt, a raw file stream, Hocuspocus, reading the rows,',
    'a bare insertMany). Medians and percentiles are over the samples of the run; where a benchmark made',
    'several runs (`--runs`), the median of the runs. The spread column gives upper percentiles or the',
    'maximum. A run rewrites the rows of what it ran and keeps the others, with the time each ran.',
    '',
    '## Quick run (`npm run bench`, a few minutes)',
    '',
    ...table(ofMode('quick')),
    '',
    '## Long runs (`npm run bench -- --full`, or one at a time with the commands below)',
    '',
    ...(ofMode('full').length ? table(ofMode('full')) : ['None recorded yet.']),
    '',
    ...(await findings()),
    '## Commands',
    '',
    'Each long run by hand, one command each (the server is built first by `npm run bench`; run `npm run build` before these):',
    '',
  ];
  for (const b of BENCHES)
    lines.push(
      `- ${b.name}: \`node ${b.gc ? '--expose-gc ' : ''}--import tsx scripts/bench/${b.script} ${b.full.join(' ')}\``,
    );
  lines.push('', '## Output of the runs', '');
  for (const m of ['quick', 'full'] as const)
    for (const bench of BENCHES) {
      const r = ofMode(m).find((x) => x.name === bench.name);
      if (!r) continue;
      lines.push(
        `<details><summary>${m} · ${r.name} · ${r.at} UTC · ${r.seconds} s · on ${r.machine}${r.error ? ` · ${r.error}` : ''}</summary>`,
        '',
        '```json',
        JSON.stringify(r.json, null, 2),
        '```',
        '',
        '</details>',
        '',
      );
    }
  await writeFile(target, `${lines.join('\n')}\n`);
  // The table of this run for the reader; with --json the run itself, for --from.
  process.stdout.write(values.json ? `${JSON.stringify(fresh)}\n` : `${table(fresh).join('\n')}\n`);
  log('BENCHMARKS.md written');
}

await main();
