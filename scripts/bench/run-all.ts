/**
 * Runs every benchmark under scripts/bench, one after another, and writes what they printed into
 * BENCHMARKS.md: the machine, each benchmark's method and its figures beside the in-run references
 * (bare dgram loop, raw bcrypt, raw file stream, Hocuspocus), and the full JSON of each run.
 *
 *   npm run bench                # a few minutes: smaller workloads, several runs where they help
 *   npm run bench -- --full      # the long version (the issues' sizes: 1 GiB files, 1,000,000 rows, …)
 *   npm run bench -- --only files,legacy
 *   npm run bench -- --from run.json  # rewrite BENCHMARKS.md from a run's printed JSON
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
  /** The figures worth a row: a label, the path to KIS's value, and the path to the in-run reference. */
  figures: Array<{ label: string; value: string; reference?: string; unit: string }>;
}

const BENCHES: Bench[] = [
  {
    name: 'sessions',
    script: 'session-login.ts',
    method: 'session check per request, and logins per second against raw bcrypt (cost 12) in the same run',
    quick: [],
    full: [],
    figures: [
      { label: 'session check, median', value: 'sessionCheck.medianUs', unit: 'µs' },
      { label: 'session check, p99', value: 'sessionCheck.p99Us', unit: 'µs' },
      { label: 'authenticated HTTP request, median', value: 'httpAccount.medianUs', unit: 'µs' },
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
    method: 'UDP heartbeats authenticated, stored and acknowledged, against a bare dgram echo',
    quick: ['--depots', '1000', '--telegrams', '2000'],
    full: ['--depots', '10000', '--telegrams', '5000'],
    figures: [
      { label: 'telegrams/s', value: 'kis.perSecond', reference: 'ceiling.perSecond', unit: '/s' },
      { label: 'round trip to ACK, median', value: 'kis.rttMs.median', reference: 'ceiling.rttMs.median', unit: 'ms' },
      { label: 'round trip to ACK, p99', value: 'kis.rttMs.p99', reference: 'ceiling.rttMs.p99', unit: 'ms' },
      { label: 'telegram to browser, median', value: 'telegramToBrowserMs.median', unit: 'ms' },
      { label: 'telegram to browser, p99', value: 'telegramToBrowserMs.p99', unit: 'ms' },
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
];

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { full: { type: 'boolean', default: false }, only: { type: 'string' }, from: { type: 'string' } },
  });
  const only = values.only?.split(',');
  const chosen = BENCHES.filter((b) => !only || only.includes(b.name));
  const results: Array<{ bench: Bench; json: unknown; seconds: number; error?: string }> = [];
  if (values.from) {
    const saved = JSON.parse(await readFile(values.from, 'utf8')) as Array<{
      name: string;
      seconds: number;
      error: string | null;
      json: unknown;
    }>;
    for (const r of saved) {
      const bench = BENCHES.find((b) => b.name === r.name);
      if (bench) results.push({ bench, json: r.json, seconds: r.seconds, ...(r.error ? { error: r.error } : {}) });
    }
  } else {
    for (const bench of chosen) {
      log(`— ${bench.name} (${values.full ? 'full' : 'quick'})`);
      results.push({ bench, ...(await run(bench, values.full === true)) });
    }
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# KIS benchmarks',
    '',
    `Written by \`npm run bench${values.full ? ' -- --full' : ''}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
    '',
    'Each figure stands beside its in-run reference where the benchmark has one: the same machine and',
    'run, doing the bare work (a dgram echo, raw bcrypt, a raw file stream, Hocuspocus, reading the rows,',
    'a bare insertMany). Medians and percentiles are over the samples of the run; where a benchmark made',
    'several runs (`--runs`), the median of the runs. Quick runs use smaller workloads than `--full`.',
    '',
    '| benchmark | method | figure | KIS | reference | unit |',
    '|---|---|---|---:|---:|---|',
  ];
  for (const r of results) {
    if (r.error || !r.json) {
      lines.push(`| ${r.bench.name} | ${r.bench.method} | **failed: ${r.error ?? 'no output'}** | | | |`);
      continue;
    }
    for (const [i, f] of r.bench.figures.entries())
      lines.push(
        `| ${i === 0 ? r.bench.name : ''} | ${i === 0 ? r.bench.method : ''} | ${f.label} | ${show(at(r.json, f.value))} | ${f.reference ? show(at(r.json, f.reference)) : ''} | ${f.unit} |`,
      );
  }
  lines.push('', '## Commands', '');
  for (const b of BENCHES)
    lines.push(
      `- ${b.name}: \`node ${b.gc ? '--expose-gc ' : ''}--import tsx scripts/bench/${b.script} ${b.full.join(' ')}\` (full)`,
    );
  lines.push('', '## Full output of this run', '');
  for (const r of results)
    lines.push(
      `<details><summary>${r.bench.name} (${r.seconds} s)</summary>`,
      '',
      '```json',
      JSON.stringify(r.json, null, 2),
      '```',
      '',
      '</details>',
      '',
    );
  await writeFile(path.join(ROOT, 'BENCHMARKS.md'), `${lines.join('\n')}\n`);
  process.stdout.write(
    `${JSON.stringify(results.map((r) => ({ name: r.bench.name, seconds: r.seconds, error: r.error ?? null, json: r.json })))}\n`,
  );
  log('BENCHMARKS.md written');
}

await main();
