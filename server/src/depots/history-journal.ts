import { Types } from 'mongoose';
import type { Collection } from 'mongodb';
import { isDuplicateKeyError } from '../db/query.js';
import { historyMonth } from './history-months.js';
import type { HistoryEntry } from './live-state.js';
import { DepotHistory, DepotHistoryJournal } from './model.js';

/**
 * Rows the journal may hold before the writer waits for them to reach the history: a power cut's
 * burst of a 100,000-depot fleet, one entry each. About 30 MB of memory, and a restart after a crash
 * at the limit finds them all again (they are stored in its pages).
 */
export const JOURNAL_LIMIT = 100_000;
/** Rows per insert into the history (one database round). */
const MOVE_PART = 250;
/**
 * While the writer is busy, the journal pauses this long between its parts, so that a burst's ACKs
 * keep most of the database (a part of 250 rows took FerretDB about 15 ms).
 */
const PAUSE_WHILE_BUSY_MS = 40;

/** A history entry as a journal page stores it: its final `_id` and depot, times as epoch ms. */
export interface JournalRow extends HistoryEntry {
  _id: string;
  d: string;
}

/** The stored id of a history entry: `<depot>:ev:<n>` for depot events (stored once), else time-ordered. */
export function historyId(depotId: string, ev: number | undefined): string {
  return ev === undefined ? `${depotId}:${new Types.ObjectId().toHexString()}` : `${depotId}:ev:${ev}`;
}

/** The journal rows of one depot's new entries. */
export function journalRows(depotId: string, entries: HistoryEntry[]): JournalRow[] {
  return entries.map((h) => ({ ...h, _id: historyId(depotId, h.ev), d: depotId }));
}

/** The history document of a journal row. */
export function historyDoc(row: JournalRow): { _id: string } & Record<string, unknown> {
  const at = new Date(row.at);
  return {
    _id: row._id,
    depotId: row.d,
    depotMonth: historyMonth(row.d, at),
    at,
    source: row.source,
    kind: row.kind,
    ...(row.ev !== undefined ? { ev: row.ev } : {}),
    ...(row.depotTime !== undefined ? { depotTime: new Date(row.depotTime) } : {}),
    ...(row.comp !== undefined ? { comp: row.comp } : {}),
    ...(row.pinId !== undefined ? { pinId: row.pinId } : {}),
    ...(row.info !== undefined ? { info: row.info } : {}),
  };
}

interface Page {
  id: Types.ObjectId;
  rows: Pending[];
  /** Rows of the page not yet in the history. */
  left: number;
}

interface Pending {
  row: JournalRow;
  page: Page;
  stored: boolean;
}

const utf8 = new TextDecoder();

/**
 * The way depot history becomes durable before its ACK without costing a database document per
 * entry: a write batch's entries go into one journal page (one binary value, model.ts), and move
 * into `depot_history` behind it, a part at a time. On FerretDB an entry of its own cost 53–65 ms per
 * 1,000, its share of a page about 13 ms (BENCHMARKS.md), so a burst of events is answered at the
 * speed of pages and stored as entries once the burst has passed.
 *
 * Reads never miss an entry: {@link HistoryJournal.storeDepot} moves a depot's rows into the
 * history before its history is read. A restart reads the pages left and moves their rows on; a
 * row moved twice (a crash between its insert and its page's delete) is a duplicate key and
 * changes nothing, since a row's `_id` is fixed when it enters the journal.
 */
export class HistoryJournal {
  private readonly pages: Page[] = [];
  /** Rows not yet in the history, by depot. */
  private readonly byDepot = new Map<string, Set<Pending>>();
  private count = 0;
  private moving: Promise<void> | undefined;
  private running = false;
  private stopped = false;

  private readonly busy: () => boolean;
  private readonly limit: number;

  constructor(
    options: {
      /** True while the writer is writing batches (ACKs wait on it): the journal then moves rows slowly. */
      busy?: () => boolean;
      /** Rows it may hold before {@link HistoryJournal.belowLimit} waits (tests set fewer). */
      limit?: number;
    } = {},
  ) {
    this.busy = options.busy ?? (() => false);
    this.limit = options.limit ?? JOURNAL_LIMIT;
  }

  /** Rows durable in the journal, not yet in the history. */
  get backlog(): number {
    return this.count;
  }

  /** Takes up the pages a previous run left, and moves their rows on in the background. */
  async recover(): Promise<void> {
    for await (const doc of pagesCollection().find({}).sort({ _id: 1 })) {
      const bytes = doc.p instanceof Uint8Array ? doc.p : (doc.p.buffer ?? new Uint8Array());
      this.register(doc._id, JSON.parse(utf8.decode(bytes)) as JournalRow[]);
    }
    this.kick();
  }

  /** Makes rows durable as one page, and moves them into the history in the background. */
  async append(rows: JournalRow[]): Promise<void> {
    if (rows.length === 0) return;
    const id = new Types.ObjectId();
    await pagesCollection().insertOne({ _id: id, p: Buffer.from(JSON.stringify(rows)), n: rows.length });
    this.register(id, rows);
    this.kick();
  }

  /** Moves a depot's rows into the history now (its history is about to be read). */
  async storeDepot(depotId: string): Promise<void> {
    const pending = [...(this.byDepot.get(depotId) ?? [])];
    for (let i = 0; i < pending.length; i += MOVE_PART) await this.insert(pending.slice(i, i + MOVE_PART));
  }

  /**
   * Moves every row the journal holds now into the history, and deletes their pages (before
   * something reads the history as a whole, or deletes a depot's). Pages written meanwhile are
   * not waited for: under steady traffic there always are some.
   */
  async storeAll(): Promise<void> {
    const last = this.pages.at(-1);
    while (last && this.pages.includes(last)) await this.moveSome();
  }

  /** Waits until the journal is back under its limit (the writer's brake). */
  async belowLimit(): Promise<void> {
    while (this.count > this.limit) await this.moveSome();
  }

  /**
   * Stops moving rows in the background: the rest waits in the pages for the next start, or for
   * {@link HistoryJournal.storeDepot} and {@link HistoryJournal.storeAll}.
   */
  stop(): void {
    this.stopped = true;
  }

  private register(id: Types.ObjectId, rows: JournalRow[]): void {
    const page: Page = { id, rows: [], left: rows.length };
    for (const row of rows) {
      const pending: Pending = { row, page, stored: false };
      page.rows.push(pending);
      let ofDepot = this.byDepot.get(row.d);
      if (!ofDepot) this.byDepot.set(row.d, (ofDepot = new Set()));
      ofDepot.add(pending);
    }
    this.count += rows.length;
    this.pages.push(page);
  }

  /** Starts the background mover unless it runs. */
  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void (async () => {
      try {
        while (!this.stopped && this.pages.length) {
          await this.moveSome();
          // A timer between parts, never only settled promises: those would starve the event loop.
          await new Promise((r) => setTimeout(r, this.busy() ? PAUSE_WHILE_BUSY_MS : 0));
        }
      } catch {
        // The database is away: the rows stay in their pages; the next append starts again.
      } finally {
        this.running = false;
      }
    })();
  }

  /** Moves the next part of the oldest page, and deletes pages whose rows are all moved. One at a time. */
  private moveSome(): Promise<void> {
    // Assigned before `finally` can run: a move that ends at once must not leave a stale promise.
    this.moving ??= this.moveNext().finally(() => {
      this.moving = undefined;
    });
    return this.moving;
  }

  private async moveNext(): Promise<void> {
    const page = this.pages[0];
    if (!page) return;
    if (page.left > 0) {
      const part: Pending[] = [];
      for (const p of page.rows) {
        if (p.stored) continue;
        part.push(p);
        if (part.length === MOVE_PART) break;
      }
      await this.insert(part);
    }
    if (page.left === 0) {
      await pagesCollection().deleteOne({ _id: page.id });
      if (this.pages[0] === page) this.pages.shift();
    }
  }

  /** Inserts rows into the history (a row there already counts as moved) and marks them moved. */
  private async insert(rows: Pending[]): Promise<void> {
    if (!rows.length) return;
    await historyCollection()
      .insertMany(
        rows.map((p) => historyDoc(p.row)),
        { ordered: false },
      )
      .catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err;
      });
    for (const p of rows) {
      if (p.stored) continue;
      p.stored = true;
      p.page.left -= 1;
      this.count -= 1;
      const ofDepot = this.byDepot.get(p.row.d);
      ofDepot?.delete(p);
      if (ofDepot?.size === 0) this.byDepot.delete(p.row.d);
    }
  }
}

/** The history collection through the driver (mongoose types `_id` as ObjectId; ours are strings). */
function historyCollection(): Collection<{ _id: string } & Record<string, unknown>> {
  return DepotHistory.collection as unknown as Collection<{ _id: string } & Record<string, unknown>>;
}

function pagesCollection(): Collection<{ _id: Types.ObjectId; p: Buffer | { buffer?: Uint8Array }; n: number }> {
  return DepotHistoryJournal.collection as unknown as Collection<{
    _id: Types.ObjectId;
    p: Buffer | { buffer?: Uint8Array };
    n: number;
  }>;
}
