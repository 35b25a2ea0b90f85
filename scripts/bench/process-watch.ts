/**
 * The resident memory and CPU time of the processes a benchmark drives (the KIS server and its
 * database), read from /proc while the work runs: memory that must stay flat is only shown flat by
 * samples taken throughout, and CPU tells which side of a slow operation did the work.
 */
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often memory is read from /proc while watched. */
export const SAMPLE_MS = 200;
/** The kernel's clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Resident memory of a process now, in MiB (VmRSS from /proc). */
export async function rssMib(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return round1(kb / 1024);
}

/** CPU time (user + system) of a process so far, in seconds, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name's ")": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * CPU time (user + system) of every process below `root` except `root` itself and the subtrees of
 * `exclude`, in seconds, children they already reaped included: the embedded database's processes
 * (FerretDB, PostgreSQL and its backends) that a benchmark started, beside the server it started.
 */
export async function treeCpuSeconds(root: number, exclude: readonly number[]): Promise<number> {
  const rows: Array<{ pid: number; ppid: number; cpu: number }> = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue; // gone meanwhile
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    rows.push({ pid: Number(name), ppid: Number(fields[1]), cpu: ticks / CLOCK_TICKS });
  }
  const children = new Map<number, typeof rows>();
  for (const row of rows) children.set(row.ppid, [...(children.get(row.ppid) ?? []), row]);
  let total = 0;
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      if (exclude.includes(child.pid)) continue;
      total += child.cpu;
      walk(child.pid);
    }
  };
  walk(root);
  return total;
}

/** Server and database process ids, as watched; no database id when it runs elsewhere. */
export interface Pids {
  server: number;
  database: number | undefined;
}

/** Memory of the watched processes at one moment, ms since the watch began. */
export interface Sample {
  at: number;
  server: number;
  database: number;
}

/**
 * Samples the resident memory of the server and the database every {@link SAMPLE_MS} until
 * stopped, keeping every sample: the peak alone cannot tell a spike from a climb.
 */
export function watchMemory(pids: Pids): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  const t0 = performance.now();
  let reading = Promise.resolve();
  const sample = (): void => {
    reading = reading.then(async () => {
      const [server, database] = await Promise.all([
        rssMib(pids.server),
        pids.database ? rssMib(pids.database) : Promise.resolve(0),
      ]);
      samples.push({ at: performance.now() - t0, server, database });
    });
  };
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  return {
    stop: async () => {
      clearInterval(timer);
      sample();
      await reading;
      return samples;
    },
  };
}

/** Samples one process's resident memory every `everyMs` until stopped; the largest sample, in MiB. */
export function watchPeak(pid: number, everyMs = SAMPLE_MS): { stop: () => Promise<number> } {
  let max = 0;
  let reading = Promise.resolve();
  const sample = (): void => {
    reading = reading.then(async () => {
      max = Math.max(max, await rssMib(pid));
    });
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      sample();
      await reading;
      return max;
    },
  };
}

/** A stretch of an operation's time line, ms since the memory watch began. */
export interface Span {
  from: number;
  to: number;
}

/** Resident memory of one process over one operation, in MiB. */
export interface RssRun {
  before: number;
  peak: number;
  /** One second after the operation ended. */
  after: number;
  /** `peak` minus `before`: what the operation cost. */
  growth: number;
  /**
   * The largest sample in each quarter of the span (for an export: first rows to last byte): a
   * process that holds what it sent climbs from quarter to quarter, a streaming one stays level.
   */
  peakByQuarter: number[];
}

/** The memory of one process over one operation, from the samples taken while it ran. */
export function rssRun(
  before: number,
  after: number,
  samples: Sample[],
  pick: 'server' | 'database',
  span: Span,
): RssRun {
  const peak = Math.max(before, ...samples.map((s) => s[pick]));
  const width = (span.to - span.from) / 4;
  const peakByQuarter = [0, 1, 2, 3].map((q) => {
    const inside = samples.filter((s) => s.at >= span.from + q * width && s.at <= span.from + (q + 1) * width);
    // A quarter shorter than the sampling interval holds no sample: the one nearest its middle stands in.
    const middle = span.from + (q + 0.5) * width;
    const nearest = samples.reduce<Sample | undefined>(
      (best, s) => (!best || Math.abs(s.at - middle) < Math.abs(best.at - middle) ? s : best),
      undefined,
    );
    return Math.max(...(inside.length ? inside : nearest ? [nearest] : []).map((s) => s[pick]), 0);
  });
  return { before, peak, after, growth: round1(peak - before), peakByQuarter };
}

/** What {@link observed} adds to the body's result. */
export interface Observation {
  serverCpuSeconds: number;
  databaseCpuSeconds: number;
  /** This benchmark's own process: a saturated client would show here. */
  clientCpuSeconds: number;
  serverRssMiB: RssRun;
  databaseRssMiB: RssRun;
}

/**
 * CPU and memory of server and database around `body`, which returns the time line it measured
 * (`performance.now()` values): memory quarters run from `firstRowsAt` to `endAt`.
 */
export async function observed<T extends { firstRowsAt: number; endAt: number }>(
  pids: Pids,
  body: (watchStart: number) => Promise<T>,
): Promise<T & Observation> {
  const cpu = (): Promise<[number, number]> =>
    Promise.all([cpuSeconds(pids.server), pids.database ? cpuSeconds(pids.database) : Promise.resolve(0)]);
  const rssBefore = await Promise.all([rssMib(pids.server), pids.database ? rssMib(pids.database) : 0]);
  const cpu0 = await cpu();
  const client0 = process.cpuUsage();
  const watchStart = performance.now();
  const watch = watchMemory(pids);
  const result = await body(watchStart);
  const cpu1 = await cpu();
  const client = process.cpuUsage(client0);
  const samples = await watch.stop();
  await sleep(1000);
  const rssAfter = await Promise.all([rssMib(pids.server), pids.database ? rssMib(pids.database) : 0]);
  const span = { from: result.firstRowsAt - watchStart, to: result.endAt - watchStart };
  return {
    ...result,
    serverCpuSeconds: round2(cpu1[0] - cpu0[0]),
    databaseCpuSeconds: round2(cpu1[1] - cpu0[1]),
    clientCpuSeconds: round2((client.user + client.system) / 1e6),
    serverRssMiB: rssRun(rssBefore[0], rssAfter[0], samples, 'server', span),
    databaseRssMiB: rssRun(rssBefore[1], rssAfter[1], samples, 'database', span),
  };
}
