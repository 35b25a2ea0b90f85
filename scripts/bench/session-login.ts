/**
 * Benchmark: the cost of the session check on every request, and login throughput against the raw
 * bcrypt rate of this machine in the same run. Prints one JSON object; progress goes to stderr.
 *
 *   npm run bench
 *
 * Talks to 127.0.0.1 only: a FerretDB (or MONGODB_URI) and KIS servers it starts itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { connectDatabase, disconnectDatabase } from '../../server/src/db/connection.js';
import { provisionDatabase } from '../../server/src/db/provision.js';
import * as sessions from '../../server/src/identity/sessions.js';
import { User } from '../../server/src/identity/user-model.js';
import { createLogger } from '../../server/src/logger.js';
import { BENCH_PASSWORD, adminCookie, log, post, startServer, stats, stopServer } from './common.js';

const PASSWORD = BENCH_PASSWORD;

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
