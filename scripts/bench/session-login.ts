/**
 * Benchmark: the cost of the session check on every request, and login throughput against the raw
 * bcrypt rate of this machine in the same run. Prints one JSON object; progress goes to stderr.
 *
 *   npm run bench
 *
 * Talks to 127.0.0.1 only: a FerretDB (or MONGODB_URI) and KIS servers it starts itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import { connectDatabase, disconnectDatabase } from '../../server/src/db/connection.js';
import { provisionDatabase } from '../../server/src/db/provision.js';
import * as sessions from '../../server/src/identity/sessions.js';
import { User } from '../../server/src/identity/user-model.js';
import { createLogger } from '../../server/src/logger.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PASSWORD = 'Ein langes Passwort für Benchmarks 7';

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Median and upper percentiles of a sample, rounded. */
function stats(samples: number[]): { median: number; p90: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (x: number): number => Math.round(x * 10) / 10;
  return { median: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)) };
}

interface RunningServer {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  dataDir: string;
}

/** Starts the built server on free ports with its own data dir and database, like the tests do. */
async function startServer(mongoBase: string, env: Record<string, string>): Promise<RunningServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-'));
  const child = spawn(process.execPath, [path.join(ROOT, 'server/dist/main.js')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      KIS_DATA_DIR: dataDir,
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
  // The "listening" log line names the port the server got.
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 60_000);
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      const port = /"httpPort":(\d+)[^\n]*"msg":"listening"/.exec(stdout)?.[1];
      if (port && stderr.includes('#token=')) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return { url, child, stderr: () => stderr, dataDir };
}

async function stopServer(server: RunningServer): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
  await rm(server.dataDir, { recursive: true, force: true });
}

async function post(url: string, body: unknown, cookie?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
}

/** Creates the first admin through the printed link and returns a logged-in cookie. */
async function adminCookie(server: RunningServer): Promise<string> {
  const token = /#token=([A-Za-z0-9_-]+)/.exec(server.stderr())?.[1];
  const setup = await post(`${server.url}/api/auth/admin-setup`, {
    token,
    email: 'bench@kis.test',
    name: 'Bench',
    password: PASSWORD,
  });
  if (!setup.ok) throw new Error(`admin set-up failed: ${await setup.text()}`);
  const login = await post(`${server.url}/api/auth/login`, { email: 'bench@kis.test', password: PASSWORD });
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('no session cookie');
  return cookie;
}

/** Runs `total` jobs with at most `concurrency` at once; returns each job's duration in ms and the wall time. */
async function pool(
  total: number,
  concurrency: number,
  job: () => Promise<void>,
): Promise<{ durations: number[]; wallMs: number }> {
  const durations: number[] = [];
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        const t = performance.now();
        await job();
        durations.push(performance.now() - t);
      }
    }),
  );
  return { durations, wallMs: performance.now() - t0 };
}

/** Part 1: `sessions.authenticate` in this process against the real database, warm actor. */
async function sessionCheck(
  mongoBase: string,
): Promise<{ iterations: number; medianUs: number; p90Us: number; p99Us: number }> {
  await connectDatabase(`${mongoBase}kis_bench_${randomBytes(4).toString('hex')}`);
  await sessions.init({
    idleMs: 1_800_000,
    warnMs: 120_000,
    absoluteMs: 43_200_000,
    ipPolicy: 'exact',
    csrfKey: randomBytes(32),
    logger: createLogger({ KIS_LOG_LEVEL: 'silent' }),
  });
  await User.createIndexes();
  const user = await User.create({
    email: 'check@kis.test',
    emailLower: 'check@kis.test',
    status: 'active',
    role: 'customer',
    createdAt: new Date(),
  });
  const { cookie } = await sessions.create(String(user._id), '127.0.0.1', 'bench');
  const iterations = 20_000;
  for (let i = 0; i < 2000; i++) await sessions.authenticate({ cookie, ip: '127.0.0.1', requireCsrf: false });
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.hrtime.bigint();
    await sessions.authenticate({ cookie, ip: '127.0.0.1', requireCsrf: false });
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  sessions.shutdown();
  await disconnectDatabase();
  const s = stats(samples);
  return { iterations, medianUs: s.median, p90Us: s.p90, p99Us: s.p99 };
}

async function main(): Promise<void> {
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  try {
    log('session check in process …');
    const check = await sessionCheck(mongoBase);

    log('HTTP round trip of GET /api/account …');
    const fast = await startServer(mongoBase, { KIS_BCRYPT_COST: '4' });
    let httpAccount: { requests: number; medianUs: number; p90Us: number };
    try {
      const cookie = await adminCookie(fast);
      const requests = 2000;
      for (let i = 0; i < 200; i++) await fetch(`${fast.url}/api/account`, { headers: { cookie } });
      const { durations } = await pool(requests, 1, async () => {
        const res = await fetch(`${fast.url}/api/account`, { headers: { cookie } });
        if (!res.ok) throw new Error(`GET /api/account: ${res.status}`);
        await res.arrayBuffer();
      });
      const s = stats(durations.map((ms) => ms * 1000));
      httpAccount = { requests, medianUs: s.median, p90Us: s.p90 };
    } finally {
      await stopServer(fast);
    }

    log('login throughput at bcrypt cost 12 …');
    const real = await startServer(mongoBase, { KIS_BCRYPT_COST: '12' });
    const levels: Array<Record<string, number>> = [];
    try {
      await adminCookie(real);
      const sample = (await bcrypt.hash('x'.repeat(44), 12)).toString();
      for (const concurrency of [1, 2, 4]) {
        const logins = 24;
        const http = await pool(logins, concurrency, async () => {
          const res = await post(`${real.url}/api/auth/login`, { email: 'bench@kis.test', password: PASSWORD });
          if (!res.ok) throw new Error(`login: ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
        });
        const raw = await pool(logins, concurrency, async () => {
          await bcrypt.compare('y'.repeat(44), sample);
        });
        const loginsPerSecond = (logins / http.wallMs) * 1000;
        const comparesPerSecond = (logins / raw.wallMs) * 1000;
        levels.push({
          concurrency,
          logins,
          loginsPerSecond: Math.round(loginsPerSecond * 10) / 10,
          medianLoginMs: stats(http.durations).median,
          bcryptComparesPerSecond: Math.round(comparesPerSecond * 10) / 10,
          ratio: Math.round((loginsPerSecond / comparesPerSecond) * 100) / 100,
        });
        log(
          `  concurrency ${concurrency}: ${levels.at(-1)?.loginsPerSecond} logins/s vs ${levels.at(-1)?.bcryptComparesPerSecond} bcrypt/s`,
        );
      }
    } finally {
      await stopServer(real);
    }

    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'session-login',
          machine: { cpus: os.cpus().length, node: process.version, database: db.kind },
          sessionCheck: check,
          httpAccount,
          login: { bcryptCost: 12, levels },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await db.stop();
    await rm(dbDir, { recursive: true, force: true });
  }
}

await main();
