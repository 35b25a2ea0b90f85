import type { Db } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, disconnectDatabase } from '../../../server/src/db/connection.js';
import { HistoryJournal, journalRows, type JournalRow } from '../../../server/src/depots/history-journal.js';
import { testDatabaseUri } from '../../helpers/server.js';

const A = '0000000000001a01';
const B = '0000000000001b02';
const AT = Date.UTC(2026, 11, 5, 9, 30);

function db(): Db {
  return mongoose.connection.db as Db;
}

/** A depot's events `from`..`to` as journal rows (key taken and returned by turns). */
function events(depotId: string, from: number, to: number): JournalRow[] {
  const entries = [];
  for (let ev = from; ev <= to; ev++) {
    entries.push({
      at: AT + ev,
      source: 'depot' as const,
      kind: ev % 2 ? 'key_removed' : 'key_returned',
      ev,
      depotTime: AT + ev - 50,
      comp: 3,
    });
  }
  return journalRows(depotId, entries);
}

/** The stored history of a depot, oldest first, as a read sees it. */
async function history(depotId: string): Promise<Array<Record<string, unknown>>> {
  return db()
    .collection('depot_history')
    .find({ depotId }, { projection: { _id: 0, ev: 1, kind: 1, at: 1, depotMonth: 1, comp: 1, depotTime: 1 } })
    .sort({ at: 1 })
    .toArray();
}

async function pagesLeft(): Promise<number> {
  return db().collection('depot_history_journal').countDocuments({});
}

beforeAll(async () => {
  await connectDatabase(testDatabaseUri());
});
afterAll(async () => {
  await disconnectDatabase();
});

describe('depot history journal', () => {
  it("puts a depot's entries into its history before it is read, while the others wait in the journal", async () => {
    const journal = new HistoryJournal();
    journal.stop(); // nothing moves in the background: only the read moves A's entries
    await journal.append([...events(A, 1, 3), ...events(B, 1, 2)]);
    expect(await history(A)).toEqual([]);
    expect(journal.backlog).toBe(5);

    await journal.storeDepot(A);
    const stored = await history(A);
    expect(stored.map((h) => h.ev)).toEqual([1, 2, 3]);
    expect(stored[0]).toEqual({
      ev: 1,
      kind: 'key_removed',
      at: new Date(AT + 1),
      depotTime: new Date(AT + 1 - 50),
      depotMonth: `${A}/2026-12`,
      comp: 3,
    });
    expect(await history(B)).toEqual([]);
    expect(journal.backlog).toBe(2);
    expect(await pagesLeft()).toBe(1);

    await journal.storeAll();
    expect((await history(B)).map((h) => h.ev)).toEqual([1, 2]);
    expect(journal.backlog).toBe(0);
    expect(await pagesLeft()).toBe(0);
  });

  it('after a crash, moves what the journal holds into the history once, even entries already moved', async () => {
    const before = new HistoryJournal();
    before.stop();
    await before.append([...events(A, 10, 12), ...events(B, 10, 10)]);
    await before.append(events(A, 13, 13));
    await before.storeDepot(A); // moved, but the pages are not deleted yet: then the crash
    expect(await pagesLeft()).toBe(2);

    const after = new HistoryJournal();
    await after.recover();
    expect(after.backlog).toBe(5);
    await after.storeAll();
    expect((await history(A)).filter((h) => Number(h.ev) >= 10).map((h) => h.ev)).toEqual([10, 11, 12, 13]);
    expect((await history(B)).filter((h) => h.ev === 10)).toHaveLength(1);
    expect(await pagesLeft()).toBe(0);
  });

  it('holds the writer once it is over its limit, until it is back under it', async () => {
    const journal = new HistoryJournal({ limit: 300 });
    journal.stop();
    await journal.append(events(A, 100, 399));
    await journal.append(events(B, 100, 399));
    expect(journal.backlog).toBe(600);
    await journal.belowLimit();
    expect(journal.backlog).toBeLessThanOrEqual(300);
    // The oldest go first.
    expect((await history(A)).filter((h) => Number(h.ev) >= 100)).toHaveLength(300);
    await journal.storeAll();
  });

  it('moves its entries on by itself when nothing stops it', async () => {
    const journal = new HistoryJournal();
    await journal.append(events(B, 500, 520));
    await expect.poll(() => journal.backlog, { timeout: 5_000 }).toBe(0);
    expect((await history(B)).filter((h) => Number(h.ev) >= 500)).toHaveLength(21);
    await expect.poll(pagesLeft, { timeout: 5_000 }).toBe(0);
  });
});
