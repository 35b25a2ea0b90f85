import { MAX_UPDATE_STATEMENTS } from '../db/query.js';
import { historyMonth } from './history-months.js';
import { Depot, DepotHistory } from './model.js';

/** Updates gathered while the months are added. */
const BATCH = 500;

/**
 * Gives every history entry written before the month partitions its `depotMonth`, and every depot
 * a `historyFrom` no later than its first entry (depots/history-months.ts). One pass over the
 * history; idempotent (an entry that has its month is left alone). Runs once per database, at start.
 */
export async function addHistoryMonths(log: (msg: string) => void = () => undefined): Promise<void> {
  const history = DepotHistory.collection;
  const earliest = new Map<string, Date>();
  let ops: Parameters<typeof DepotHistory.bulkWrite>[0] = [];
  let updated = 0;
  const flush = async (): Promise<void> => {
    if (ops.length === 0) return;
    for (let i = 0; i < ops.length; i += MAX_UPDATE_STATEMENTS)
      await DepotHistory.bulkWrite(ops.slice(i, i + MAX_UPDATE_STATEMENTS), { ordered: false });
    updated += ops.length;
    ops = [];
    if (updated % 50_000 < BATCH) log(`history months: ${updated} entries so far`);
  };
  const cursor = history.find<{ _id: string; depotId: string; at: Date; depotMonth?: string }>(
    {},
    { projection: { depotId: 1, at: 1, depotMonth: 1 } },
  );
  for await (const doc of cursor) {
    const first = earliest.get(doc.depotId);
    if (!first || doc.at < first) earliest.set(doc.depotId, doc.at);
    if (doc.depotMonth) continue;
    ops.push({
      updateOne: { filter: { _id: doc._id }, update: { $set: { depotMonth: historyMonth(doc.depotId, doc.at) } } },
    });
    if (ops.length >= BATCH) await flush();
  }
  await flush();
  for (const depot of await Depot.find({}, { createdAt: 1, historyFrom: 1 }).lean()) {
    const first = earliest.get(depot._id);
    const from = first && first < depot.createdAt ? first : depot.createdAt;
    if (!depot.historyFrom || depot.historyFrom > from) {
      await Depot.updateOne({ _id: depot._id }, { $set: { historyFrom: from } });
    }
  }
  if (updated) log(`history months: ${updated} entries given their month`);
}
