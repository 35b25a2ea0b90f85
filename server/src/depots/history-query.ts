/**
 * The database filter of a depot's history, as its timeline and its exports ask for it.
 *
 * Every condition is a top-level field: `{ depotId, kind?, comp?, at: { $gte?, $lt? } }`. MongoDB
 * reads that the same as the `$and` of its parts, but FerretDB hands only top-level fields to its
 * backend (its PostgreSQL backend turns their equalities into SQL; anything under `$and` or `$or`
 * it evaluates itself, after reading every document of the collection).
 */

/** What the timeline and the exports filter a history by. */
export interface HistoryFilters {
  /** ISO time: entries at or after it. */
  from?: string | undefined;
  /** ISO time: entries before it. */
  to?: string | undefined;
  kind?: string | undefined;
  comp?: number | undefined;
}

/** The last entry of a page, newest first: the next page holds the entries after it. */
export interface HistoryPosition {
  at: Date;
  id: string;
}

/**
 * The filter of one depot's history entries. With `before`, only entries after that position in
 * the timeline's order (time, then id, both descending) match.
 *
 * @example
 * DepotHistory.find(historyFilter(depotId, { kind: 'key_removed', from })).sort({ at: 1, _id: 1 });
 */
export function historyFilter(
  depotId: string,
  filters: HistoryFilters,
  before?: HistoryPosition,
): Record<string, unknown> {
  const filter: Record<string, unknown> = { depotId };
  if (filters.kind) filter.kind = filters.kind;
  if (filters.comp !== undefined) filter.comp = filters.comp;
  const at: Record<string, Date> = {};
  if (filters.from) at.$gte = new Date(filters.from);
  if (filters.to) at.$lt = new Date(filters.to);
  if (before) {
    // at < c.at, or at = c.at with a smaller id: the bound on `at` is a top-level range, and only
    // the tie needs an `$or` (which, with at ≤ c.at beside it, means exactly that).
    at.$lte = before.at;
    filter.$or = [{ at: { $lt: before.at } }, { _id: { $lt: before.id } }];
  }
  if (Object.keys(at).length) filter.at = at;
  return filter;
}
