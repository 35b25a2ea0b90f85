import { describe, expect, it } from 'vitest';
import {
  historyMonth,
  historySpan,
  monthsNewestFirst,
  monthsOldestFirst,
} from '../../../server/src/depots/history-months.js';

describe('history months', () => {
  it('names the UTC month of an entry, also at the turn of a month and a year', () => {
    expect(historyMonth('00000000000000aa', new Date('2026-03-31T23:59:59.999Z'))).toBe('00000000000000aa/2026-03');
    expect(historyMonth('00000000000000aa', new Date('2026-04-01T00:00:00.000Z'))).toBe('00000000000000aa/2026-04');
    // 00:30 in Berlin on New Year's Day is still the old year in UTC.
    expect(historyMonth('00000000000000aa', new Date('2026-12-31T23:30:00Z'))).toBe('00000000000000aa/2026-12');
  });

  it('walks the months of a span in both directions, across a year', () => {
    const first = new Date('2025-11-30T10:00:00Z');
    const last = new Date('2026-02-01T00:00:00Z');
    expect([...monthsNewestFirst(first, last)]).toEqual(['2026-02', '2026-01', '2025-12', '2025-11']);
    expect([...monthsOldestFirst(first, last)]).toEqual(['2025-11', '2025-12', '2026-01', '2026-02']);
    // 31 January plus a month must not skip February.
    expect([...monthsOldestFirst(new Date('2026-01-31T12:00:00Z'), new Date('2026-03-02T00:00:00Z'))]).toEqual([
      '2026-01',
      '2026-02',
      '2026-03',
    ]);
    expect([...monthsNewestFirst(last, first)]).toEqual([]);
    expect([...monthsOldestFirst(first, first)]).toEqual(['2025-11']);
  });

  it('spans from the filter or the first entry, to before the filter’s end or now', () => {
    const historyFrom = new Date('2026-01-15T00:00:00Z');
    const now = new Date('2026-06-10T00:00:00Z');
    expect(historySpan({}, historyFrom, now)).toEqual({ first: historyFrom, last: now });
    expect(historySpan({ from: '2025-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, historyFrom, now)).toEqual({
      first: historyFrom,
      last: new Date('2026-02-28T23:59:59.999Z'),
    });
    expect(historySpan({ from: '2026-02-01T00:00:00Z', to: '2027-01-01T00:00:00Z' }, historyFrom, now)).toEqual({
      first: new Date('2026-02-01T00:00:00Z'),
      last: now,
    });
  });
});
