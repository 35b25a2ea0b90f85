import { historySpan, monthsNewestFirst, monthsOldestFirst } from './history-months.js';
import { historyFilter, type HistoryFilters, type HistoryPosition } from './history-query.js';
import { DepotHistory, type HistoryDoc } from './model.js';

/** What a history read needs of its depot: its id and where its history begins. */
export interface HistoryOwner {
  depotId: string;
  /** The depot's first entry or earlier (`historyFrom`, else its creation). */
  historyFrom: Date;
}

/** Where a depot's history begins, from its stored document. */
export function historyOwner(doc: { _id: string; historyFrom?: Date | null; createdAt: Date }): HistoryOwner {
  return { depotId: doc._id, historyFrom: doc.historyFrom ?? doc.createdAt };
}

/**
 * Up to `limit` entries, newest first, after `before` (a page's last entry), read a month at a
 * time from the newest month of the span back until enough are found.
 */
export async function newestEntries(
  owner: HistoryOwner,
  filters: HistoryFilters,
  before: HistoryPosition | undefined,
  limit: number,
): Promise<HistoryDoc[]> {
  const { first, last } = historySpan(
    { from: filters.from, to: before ? new Date(before.at.getTime() + 1).toISOString() : filters.to },
    owner.historyFrom,
  );
  const filter = historyFilter(owner.depotId, filters, before);
  const found: HistoryDoc[] = [];
  for (const month of monthsNewestFirst(first, last)) {
    const part = await DepotHistory.find({ ...filter, depotMonth: `${owner.depotId}/${month}` })
      .sort({ at: -1, _id: -1 })
      .limit(limit - found.length)
      .lean<HistoryDoc[]>();
    found.push(...part);
    if (found.length >= limit) break;
  }
  return found;
}

/**
 * Every entry that matches, oldest first, a month at a time: one cursor open at a time, read in
 * batches of `batchSize` as the caller asks for more. Stopping early closes the open cursor.
 */
export async function* entriesOldestFirst(
  owner: HistoryOwner,
  filters: HistoryFilters,
  batchSize: number,
): AsyncGenerator<HistoryDoc> {
  const { first, last } = historySpan(filters, owner.historyFrom);
  const filter = historyFilter(owner.depotId, filters);
  for (const month of monthsOldestFirst(first, last)) {
    const cursor = DepotHistory.find({ ...filter, depotMonth: `${owner.depotId}/${month}` })
      .sort({ at: 1, _id: 1 })
      .lean<HistoryDoc[]>()
      .cursor({ batchSize });
    try {
      for await (const doc of cursor) yield doc as HistoryDoc;
    } finally {
      await cursor.close();
    }
  }
}
