/**
 * A depot's history is read a month at a time. Every entry carries `depotMonth`
 * (`<depotId>/<YYYY-MM>`, UTC) with an index on it, and every read asks for one month by equality.
 *
 * Why: FerretDB, KIS's embedded database, hands only top-level equalities to its backend and sorts
 * and limits after reading every match. Asked for a depot, it reads the depot's whole history (a
 * busy depot's year: thousands of entries, 100+ ms) to return 50; asked for a month, it reads that
 * month. MongoDB answers both from an index; the month costs it nothing.
 */

/** `2026-03` for a time in March 2026 (UTC). */
function monthOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The month partition of a depot's entry at `at`. */
export function historyMonth(depotId: string, at: Date): string {
  return `${depotId}/${monthOf(at)}`;
}

/** The first instant of the month after the one `at` is in (UTC). */
function nextMonthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
}

/**
 * The months that may hold entries in [first, last], newest first. An empty range yields nothing.
 *
 * @example
 * [...monthsNewestFirst(new Date('2026-01-31'), new Date('2026-03-01'))] // ['2026-03', '2026-02', '2026-01']
 */
export function* monthsNewestFirst(first: Date, last: Date): Generator<string> {
  if (last < first) return;
  const stop = monthOf(first);
  for (let at = last; ; at = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1))) {
    const month = monthOf(at);
    yield month;
    if (month <= stop) return;
  }
}

/** The months that may hold entries in [first, last], oldest first. */
export function* monthsOldestFirst(first: Date, last: Date): Generator<string> {
  if (last < first) return;
  const stop = monthOf(last);
  for (let at = first; ; at = nextMonthStart(at)) {
    const month = monthOf(at);
    yield month;
    if (month >= stop) return;
  }
}

/**
 * The span a history read covers: from the filter's start, else from the depot's first entry; to
 * just before the filter's end, else now.
 */
export function historySpan(
  filters: { from?: string | undefined; to?: string | undefined },
  historyFrom: Date,
  now = new Date(),
): { first: Date; last: Date } {
  const first = filters.from
    ? new Date(Math.max(new Date(filters.from).getTime(), historyFrom.getTime()))
    : historyFrom;
  const last = filters.to ? new Date(Math.min(new Date(filters.to).getTime() - 1, now.getTime())) : now;
  return { first, last };
}
