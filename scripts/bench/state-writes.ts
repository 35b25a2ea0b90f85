/**
 * Benchmark: how the depot writer should make depots' changing state durable on the embedded
 * database (issue 18: keep only the work-arounds a measurement proves are still needed). With
 * 10,000 registered depots, a write batch of B different depots' states is made durable
 *   - the way one would on MongoDB: one `updateOne` by `_id` per depot, in update commands of
 *     {@link MAX_UPDATE_STATEMENTS} statements (db/query.ts);
 *   - appended as one entry each: one `insertMany` of B entries into a log (the writer's layout until
 *     pages);
 *   - the way the writer does: one page of B states as one binary value (depots/state-log.ts);
 * and a state log of 20,000 entries is emptied by `deleteMany` and by dropping its collection (the
 * log's generations). Last, whether an update command of twice the statements is answered at all.
 * Prints one JSON object.
 *
 *   npx tsx scripts/bench/state-writes.ts [--depots 10000 --rounds 9]
 *
 * Talks to 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MongoClient, type AnyBulkWriteOperation, type Collection } from 'mongodb';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { MAX_UPDATE_STATEMENTS } from '../../server/src/db/query.js';
import { insertBenchDepots, log, stats } from './common.js';

const { values } = parseArgs({
  options: {
    depots: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '9' },
  },
});
const DEPOTS = Number(values.depots);
const ROUNDS = Number(values.rounds);
const BATCHES = [1, 100, 1000].filter((b) => b <= DEPOTS);
/** How long an update command of twice the statements may take before it counts as unanswered. */
const PROBE_TIMEOUT_MS = 60_000;

type Doc = { _id: string } & Record<string, unknown>;

/** A depot's state as the writer stores it (depots/state-log.ts toEntry), after a heartbeat. */
function state(depotId: string, rev: number): Record<string, unknown> {
  return {
    d: depotId,
    rev,
    live: {
      online: true,
      lastSeen: Date.now(),
      address: '127.0.0.1:40000',
      fw: '1.4.2',
      hw: 'KD-8',
      up: 3600 + rev,
      door: 'closed',
      power: 'mains',
      batt: 100,
      rssi: -61,
      temp: 21,
      comps: [
        { n: 1, key: true, locked: true },
        { n: 2, key: true, locked: true },
      ],
      alarms: [],
      loans: [],
    },
    lastEv: rev,
    replay: { epoch: 1, highest: rev, bitmap: 'ffffffffffffffff' },
    sendEpoch: 1,
  };
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

function summary(samples: number[], batch: number): Record<string, number> {
  const s = stats(samples);
  return { batch, medianMs: s.median, p90Ms: s.p90, statesPerSecond: Math.round((batch * 1000) / s.median) };
}

async function main(): Promise<void> {
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-states-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  const uri = `${mongoBase}kis_bench_${randomBytes(4).toString('hex')}`;
  const client = await MongoClient.connect(uri);
  let stuck = false;
  try {
    log(`registering ${DEPOTS} depots …`);
    const depotIds = (await insertBenchDepots(uri, dataDir, DEPOTS, 2)).map((d) => d.depotId);
    const depots = client.db().collection<Doc>('depots');
    const entries = client.db().collection<Record<string, unknown>>('bench_state_log');
    const pages = client.db().collection<Record<string, unknown>>('bench_state_pages');
    let rev = 0;
    /** B depots, a different stretch of the fleet each round. */
    const pick = (batch: number, round: number): string[] =>
      Array.from({ length: batch }, (_, i) => depotIds[(round * batch + i) % depotIds.length] as string);

    const byUpdate: Array<Record<string, number>> = [];
    const byAppend: Array<Record<string, number>> = [];
    const byPage: Array<Record<string, number>> = [];
    for (const batch of BATCHES) {
      log(`batches of ${batch} states …`);
      const updates: number[] = [];
      const appends: number[] = [];
      const paged: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const ids = pick(batch, round);
        rev += 1;
        const ops: AnyBulkWriteOperation<Doc>[] = ids.map((id) => {
          const fields = state(id, rev);
          delete fields.d;
          return { updateOne: { filter: { _id: id }, update: { $set: fields } } };
        });
        updates.push(
          await timed(async () => {
            for (let i = 0; i < ops.length; i += MAX_UPDATE_STATEMENTS)
              await depots.bulkWrite(ops.slice(i, i + MAX_UPDATE_STATEMENTS), { ordered: false });
          }),
        );
        appends.push(await timed(() => entries.insertMany(ids.map((id) => state(id, rev)))));
        // As state-log.ts writes a page: the states' JSON as one binary value, encoding included.
        paged.push(
          await timed(() =>
            pages.insertOne({ p: Buffer.from(JSON.stringify(ids.map((id) => state(id, rev)))), n: ids.length }),
          ),
        );
      }
      byUpdate.push(summary(updates, batch));
      byAppend.push(summary(appends, batch));
      byPage.push(summary(paged, batch));
    }

    log('emptying a log of 20,000 entries …');
    const fill = async (name: string): Promise<Collection<Record<string, unknown>>> => {
      const log = client.db().collection<Record<string, unknown>>(name);
      for (let i = 0; i < 20_000; i += 1000)
        await log.insertMany(
          Array.from({ length: 1000 }, (_, k) => state(depotIds[(i + k) % DEPOTS] as string, i + k)),
        );
      return log;
    };
    const deleted = await fill('bench_log_delete');
    const deleteMs = await timed(() => deleted.deleteMany({}));
    const dropped = await fill('bench_log_drop');
    const dropMs = await timed(() => dropped.drop());

    log(`one update command of ${2 * MAX_UPDATE_STATEMENTS} statements …`);
    const probeIds = pick(2 * MAX_UPDATE_STATEMENTS, 0);
    rev += 1;
    const probe = depots
      .bulkWrite(
        probeIds.map((id) => ({ updateOne: { filter: { _id: id }, update: { $set: { rev } } } })),
        { ordered: false },
      )
      .then(() => 'answered' as const);
    const start = performance.now();
    const outcome = await Promise.race([
      probe,
      new Promise<'no answer'>((resolve) => setTimeout(() => resolve('no answer'), PROBE_TIMEOUT_MS).unref()),
    ]);
    probe.catch(() => undefined);
    stuck = outcome === 'no answer';

    console.log(
      JSON.stringify(
        {
          benchmark: 'state-writes',
          machine: { cpus: os.cpus().length, node: process.version },
          database: process.env.MONGODB_URI ? 'MONGODB_URI' : 'embedded default',
          depots: DEPOTS,
          rounds: ROUNDS,
          stateByUpdate: {
            what: `updateOne by _id per depot, in update commands of ${MAX_UPDATE_STATEMENTS}, one after another`,
            batches: byUpdate,
          },
          stateByAppend: { what: 'one insertMany of the batch, an entry per state', batches: byAppend },
          stateByPage: { what: 'one page of the batch: its JSON as one binary value (the writer)', batches: byPage },
          emptyingALogOf20000: { deleteManyMs: Math.round(deleteMs), dropMs: Math.round(dropMs) },
          updateCommandOfTwiceTheStatements: {
            statements: 2 * MAX_UPDATE_STATEMENTS,
            outcome,
            ms: outcome === 'answered' ? Math.round(performance.now() - start) : null,
            timeoutMs: PROBE_TIMEOUT_MS,
          },
        },
        null,
        2,
      ),
    );
  } finally {
    // An unanswered command keeps its connection busy: then close without waiting for it.
    if (!stuck)
      await client
        .db()
        .dropDatabase()
        .catch(() => undefined);
    await client.close(stuck);
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(dbDir, { recursive: true, force: true });
  }
}

await main();
