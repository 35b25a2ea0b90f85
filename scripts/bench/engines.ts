/**
 * The embedded engines side by side, on the queries KIS lives on: FerretDB on SQLite, on PostgreSQL
 * as FerretDB uses it, and on PostgreSQL with KIS's index twins (the default). Each gets its own
 * data dir, the same history collection (an index on {depotId: 1, at: -1}), then the same queries;
 * medians of 10 (of 3 for the slow ones). Prints JSON. This is the measurement behind the design
 * note in the README's database section.
 *
 *   npx tsx scripts/bench/engines.ts                # 200,000 entries of 100 depots
 *   npx tsx scripts/bench/engines.ts --entries 50000
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient, type Collection } from 'mongodb';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { log, stats } from './common.js';

interface Entry {
  _id: string;
  depotId: string;
  at: Date;
  kind: string;
  source: string;
  ev: number;
}

const KINDS = ['key_taken', 'key_returned', 'door_open', 'door_closed', 'heartbeat'];
const DEPOTS = 100;
const START = Date.UTC(2026, 0, 1);

async function timed(runs: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return Math.round(stats(samples).median * 10) / 10;
}

async function measure(history: Collection<Entry>, entries: number): Promise<Record<string, number>> {
  await history.createIndex({ depotId: 1, at: -1 });
  const t = performance.now();
  for (let i = 0; i < entries; i += 5000) {
    const docs: Entry[] = [];
    for (let j = i; j < Math.min(entries, i + 5000); j++) {
      const depotId = `d${j % DEPOTS}`;
      docs.push({
        _id: `${depotId}:ev:${j}`,
        depotId,
        at: new Date(START + j * 60_000),
        kind: KINDS[j % 5] ?? '',
        source: 'depot',
        ev: j,
      });
    }
    await history.insertMany(docs, { ordered: false });
  }
  const insertPerSecond = Math.round(entries / ((performance.now() - t) / 1000));
  // A depot in the middle of the id range; its ids are d42:ev:42, d42:ev:142, …
  const id = (i: number): string => `d42:ev:${42 + ((i * 37) % (entries / DEPOTS)) * DEPOTS}`;
  const month = { $gte: new Date(START + 30 * 86_400_000), $lt: new Date(START + 60 * 86_400_000) };
  const slow = (await timed(1, () => history.find({ depotId: 'd42' }).sort({ at: -1 }).limit(50).toArray())) > 1000;
  const runs = slow ? 3 : 10;
  return {
    insertPerSecond,
    findOneByIdMs: await timed(runs, (i) => history.findOne({ _id: id(i) })),
    updateOneByIdMs: await timed(runs, (i) => history.updateOne({ _id: id(i) }, { $set: { info: `n${i}` } })),
    newest50Ms: await timed(runs, () => history.find({ depotId: 'd42' }).sort({ at: -1 }).limit(50).toArray()),
    kindAndMonthMs: await timed(runs, () =>
      history.find({ depotId: 'd42', kind: 'key_taken', at: month }).sort({ at: -1 }).limit(50).toArray(),
    ),
  };
}

const { values } = parseArgs({ options: { entries: { type: 'string', default: '200000' } } });
const entries = Number(values.entries);
const variants = [
  { name: 'sqlite', backend: 'sqlite' as const, twins: true },
  { name: 'postgresql', backend: 'postgresql' as const, twins: false },
  { name: 'postgresqlWithTwins', backend: 'postgresql' as const, twins: true },
];
const result: Record<string, unknown> = { entries, depots: DEPOTS };
for (const variant of variants) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-engines-'));
  const db = await provisionDatabase({
    dataDir,
    only: 'ferretdb',
    backend: variant.backend,
    postgresIndexTwins: variant.twins,
    log,
  });
  const client = new MongoClient(db.uri);
  try {
    log(`${variant.name}: ${entries} entries`);
    result[variant.name] = await measure(client.db('bench').collection<Entry>('history'), entries);
    log(`${variant.name}: ${JSON.stringify(result[variant.name])}`);
  } finally {
    await client.close();
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
