/**
 * Benchmark: import of legacy accounts (10,000 by default, ten per company) through the same code
 * as `npm run kis -- legacy:import`: parsing and checking the CSV, the dry run, the import, and the
 * repeated import (which must change nothing). Reports wall time and the process's peak resident
 * memory per phase; beside it, as the reference, a bare insertMany of as many documents into one
 * collection. Passwords are salted SHA-256 hashes with every tenth one in bcrypt (cost 10), as a
 * mixed legacy file would have them. Prints one JSON object.
 *
 *   npm run bench:legacy [-- --accounts 10000 --per-company 10]
 *
 * Uses an embedded FerretDB in a temporary directory, or MONGODB_URI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import mongoose from 'mongoose';
import { connectDatabase, disconnectDatabase } from '../../server/src/db/connection.js';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { importLegacy, parseLegacyFile } from '../../server/src/identity/legacy-import.js';
import { init as legacyInit } from '../../server/src/identity/legacy.js';
import { log } from './common.js';

const { values } = parseArgs({
  options: {
    accounts: { type: 'string', default: '10000' },
    'per-company': { type: 'string', default: '10' },
  },
});
const ACCOUNTS = Number(values.accounts);
const PER_COMPANY = Number(values['per-company']);

/** Runs a phase, sampling the resident memory every 20 ms; returns its time and peak. */
async function phase<T>(run: () => Promise<T>): Promise<{ ms: number; peakRssMb: number; result: T }> {
  global.gc?.();
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  try {
    const result = await run();
    return { ms: Math.round(performance.now() - started), peakRssMb: Math.round(peak / 1048576), result };
  } finally {
    clearInterval(sampler);
  }
}

async function makeCsv(): Promise<string> {
  const bcryptHash = await bcrypt.hash('altes Passwort', 10);
  const lines = ['username;displayName;company;main;rights;passwordHash;products'];
  for (let i = 0; i < ACCOUNTS; i++) {
    const company = Math.floor(i / PER_COMPANY);
    const main = i % PER_COMPANY === 0;
    const salt = randomBytes(6).toString('hex');
    const hash =
      i % 10 === 0 ? bcryptHash : `sha256$${salt}$${createHash('sha256').update(`${salt}Passwort ${i}`).digest('hex')}`;
    lines.push(
      [
        `user.${i}`,
        `Person ${i}`,
        `Firma ${company}`,
        main ? 'ja' : 'nein',
        main ? '' : 'read_areas see_depots',
        hash,
        'Portal',
      ].join(';'),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-legacy-'));
  const db = await provisionDatabase({ dataDir: dir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const uri = `${db.uri.replace(/\/[^/]*(\?.*)?$/, '/')}kis_bench_${randomBytes(4).toString('hex')}`;
  try {
    await connectDatabase(uri);
    await legacyInit();
    log(`making a file of ${ACCOUNTS} accounts`);
    const csv = await makeCsv();
    const lines = ACCOUNTS + 1;
    const parsed = await phase(async () => parseLegacyFile(csv, 'csv'));
    log(`parsed in ${parsed.ms} ms`);
    const dry = await phase(() => importLegacy(parseLegacyFile(csv, 'csv'), { dryRun: true, lines }));
    log(`dry run in ${dry.ms} ms`);
    const first = await phase(() => importLegacy(parseLegacyFile(csv, 'csv'), { dryRun: false, lines }));
    log(`import in ${first.ms} ms`);
    const again = await phase(() => importLegacy(parseLegacyFile(csv, 'csv'), { dryRun: false, lines }));
    log(`repeat in ${again.ms} ms`);
    const reference = await phase(async () => {
      const docs = Array.from({ length: ACCOUNTS }, (_, i) => ({
        username: `user.${i}`,
        name: `Person ${i}`,
        at: new Date(),
      }));
      const collection = mongoose.connection.collection('bench_reference');
      for (let i = 0; i < docs.length; i += 1000) await collection.insertMany(docs.slice(i, i + 1000));
    });
    await mongoose.connection.db?.dropDatabase();
    const out = {
      benchmark: 'legacy-import',
      accounts: ACCOUNTS,
      companies: Math.ceil(ACCOUNTS / PER_COMPANY),
      fileMb: Math.round((Buffer.byteLength(csv) / 1048576) * 100) / 100,
      parseAndCheck: { ms: parsed.ms, peakRssMb: parsed.peakRssMb, problems: parsed.result.problems.length },
      dryRun: { ms: dry.ms, peakRssMb: dry.peakRssMb },
      import: {
        ms: first.ms,
        peakRssMb: first.peakRssMb,
        accountsPerSecond: Math.round((ACCOUNTS / first.ms) * 1000),
        report: first.result.accounts,
      },
      repeat: { ms: again.ms, peakRssMb: again.peakRssMb, report: again.result.accounts },
      reference: { what: `insertMany of ${ACCOUNTS} small documents in batches of 1000`, ms: reference.ms },
      machine: { cpus: os.cpus().length, node: process.version, database: db.kind },
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await disconnectDatabase();
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
