import { isDuplicateKeyError, MAX_UPDATE_STATEMENTS } from '../db/query.js';
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import type { DepotCommit } from './machine.js';
import { HistoryJournal, historyDoc, journalRows } from './history-journal.js';
import { Depot, DepotCommand, DepotHistory, DepotPin, commandId } from './model.js';
import type { DurableState, StateLog } from './state-log.js';

/** The most commits one flush writes; more wait for the next. */
const MAX_BATCH = 2000;
/**
 * The most states one flush writes for {@link CommitWriter.later}: liveness that nothing waits
 * for rides along with the answered commits in small portions, so that a thousand of them never
 * hold up a batch whose ACKs wait (a state cost FerretDB about 0.2 ms as an entry of its own,
 * 0.013 ms in a page: state-log.ts).
 */
const LATER_PER_BATCH = 100;
/**
 * The most states a batch of liveness alone writes: nothing waits for them, and a smaller batch
 * holds the event loop for less at a time while it is encoded.
 */
const MAX_LATER_BATCH = 500;
/** Statements per update command (db/query.ts says why). */
const MAX_UPDATES = MAX_UPDATE_STATEMENTS;
/**
 * How long a batch may take before its commits count as failed (not acknowledged; the depots repeat
 * them, and a history entry is stored once by its id). A batch takes well under a second, and fails
 * within the driver's 5 s server selection while the database is away. But in 2 of 7 CI runs of the
 * database-outage test no ACK came after the outage and no commit even failed: what a batch looks
 * like that never settles (a write on the wire as the database went down, most likely), with every
 * later ACK waiting behind it for good.
 */
const BATCH_DEADLINE_MS = 30_000;
const MAX_INSERTS = 500;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Makes depot commits durable in batches: while one batch is being written the next gathers, so
 * under load one round of database writes carries many telegrams, and an idle depot's telegram is
 * written at once. Per depot, commits are written in the order they were made (batches are
 * sequential, and within one the last state of each depot wins).
 *
 * A batch's history entries are one page of the {@link HistoryJournal}, which moves them into
 * `depot_history` behind the ACKs. A depot event's entry has the id `<depot>:ev:<n>`, so a repeated
 * event is stored once.
 */
export class CommitWriter {
  private queue: Array<{ commit: DepotCommit; resolve: () => void; reject: (err: unknown) => void }> = [];
  /** Commits nobody waits for (see {@link CommitWriter.later}). */
  private laterQueue: typeof this.queue = [];
  private running = false;
  /** The newest durable state of every loaded depot: what a log rotation writes as its snapshot. */
  readonly durable = new Map<string, DurableState>();
  /**
   * A log rotation under way: its snapshot is written in the background while batches go on; once
   * written, the next turn of the drain loop writes what changed since and switches generations.
   */
  private rotation: { revs: Map<string, number>; prepared: Promise<void>; ready: boolean } | undefined;

  /** History entries on their way into `depot_history` (history-journal.ts). */
  readonly journal = new HistoryJournal({ busy: () => this.running });

  constructor(
    private readonly log: StateLog,
    /** Entries the log may hold before a rotation, given how many depots are loaded. */
    // Pages are cheap to write and read (model.ts), a snapshot of every depot is not: at 10,000
    // heartbeats/s a rotation every 20 s held the event loop for up to 90 ms each time (--cpu-prof).
    private readonly rotateAfter: (loaded: number) => number = (loaded) => Math.max(50_000, 10 * loaded),
  ) {}

  /** Resolves when the commit is durable. */
  write(commit: DepotCommit): Promise<void> {
    return this.enqueue(this.queue, commit);
  }

  /**
   * Writes a commit that nothing waits for (a depot's liveness): after the commits that are
   * waited for, a few per batch; resolves when it is durable.
   */
  later(commit: DepotCommit): Promise<void> {
    return this.enqueue(this.laterQueue, commit);
  }

  private enqueue(queue: typeof this.queue, commit: DepotCommit): Promise<void> {
    return new Promise((resolve, reject) => {
      queue.push({ commit, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Commits waiting or being written. */
  get backlog(): number {
    return this.queue.length + this.laterQueue.length;
  }

  /**
   * Waits until nothing is being written, then runs `work` before the next batch (used to move a
   * detached depot's state into its document, so no later batch races it).
   */
  async between<T>(work: () => Promise<T>): Promise<T> {
    while (this.running || this.rotation) {
      await new Promise((r) => setImmediate(r));
      await this.rotation?.prepared;
    }
    return work();
  }

  /** Resolves when everything queued is written and no rotation is under way. */
  async settled(): Promise<void> {
    await this.between(async () => undefined);
  }

  private async drain(): Promise<void> {
    for (;;) {
      // Between batches: no append runs while the generation changes.
      if (this.rotation?.ready) await this.finishRotation();
      if (!this.queue.length && !this.laterQueue.length) break;
      const batch = this.queue.splice(0, MAX_BATCH);
      // Liveness rides along in small portions; alone, in batches of MAX_LATER_BATCH.
      batch.push(...this.laterQueue.splice(0, batch.length ? LATER_PER_BATCH : MAX_LATER_BATCH));
      try {
        // Past its limit the journal is emptied before more is added: ACKs then wait for it.
        await this.journal.belowLimit();
        await withinDeadline(
          writeBatch(
            batch.map((b) => b.commit),
            this.log,
            this.journal,
            this.durable,
          ),
          BATCH_DEADLINE_MS,
        );
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
      if (!this.rotation && this.log.appended > this.rotateAfter(this.durable.size)) this.startRotation();
    }
    this.running = false;
  }

  private startRotation(): void {
    const snapshot = [...this.durable];
    const rotation = {
      revs: new Map(snapshot.map(([id, state]) => [id, state.rev])),
      ready: false,
      prepared: Promise.resolve(),
    };
    rotation.prepared = this.log.prepareRotation(snapshot).then(
      () => {
        rotation.ready = true;
        // Nothing may be queued now: switch without waiting for the next telegram.
        if (!this.running) {
          this.running = true;
          setImmediate(() => void this.drain());
        }
      },
      () => {
        // Tried again once the log has grown further; the entries stay valid meanwhile.
        this.rotation = undefined;
      },
    );
    this.rotation = rotation;
  }

  private async finishRotation(): Promise<void> {
    const rotation = this.rotation;
    if (!rotation) return;
    const catchUp = [...this.durable].filter(([id, state]) => (rotation.revs.get(id) ?? -1) < state.rev);
    try {
      await this.log.finishRotation(catchUp, rotation.revs.size + catchUp.length);
    } catch {
      // The old generation stays current; both are read at start, so nothing is lost.
    }
    this.rotation = undefined;
  }
}

/** The work's own outcome, or a failure once `ms` have passed without one (the work is left to settle alone). */
async function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`depot write batch did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A document whose `_id` is a string (depots, commands, PINs, history). */
type StringIdDoc = { _id: string } & Record<string, unknown>;

/** A collection typed for string ids (mongoose types `collection` with ObjectId ids). */
function byStringId<T extends { _id: string }>(model: { collection: unknown }): Collection<T> {
  return model.collection as Collection<T>;
}

/** The fields of a PIN document the writer touches. */
interface PinRow {
  _id: string;
  depotId: string;
  state: string;
  usesSeen: number;
  revokedAt: Date;
}

async function writeBatch(
  commits: DepotCommit[],
  log: StateLog,
  journal: HistoryJournal,
  durable: Map<string, DurableState>,
): Promise<void> {
  const history = commits.flatMap((c) => journalRows(c.depotId, c.history));

  // The newest state of each depot in this batch, appended to the state log (one entry per depot).
  const states = new Map<string, DurableState>();
  for (const c of commits) {
    const known = states.get(c.depotId);
    if (known && known.rev > c.rev) continue;
    states.set(c.depotId, {
      rev: c.rev,
      live: c.live,
      lastEv: c.lastEv,
      replay: c.replay,
      reserved: c.reserved ?? c.replay.highest,
      sendEpoch: c.sendEpoch ?? 0,
    });
  }
  const depotOps: AnyBulkWriteOperation<StringIdDoc>[] = [];

  const commandOps: AnyBulkWriteOperation<StringIdDoc>[] = [];
  const pinOps: AnyBulkWriteOperation<PinRow>[] = [];
  for (const c of commits) {
    for (const u of c.commandUpdates) {
      const set: Record<string, unknown> = { state: u.state };
      if (u.attempts !== undefined) set.attempts = u.attempts;
      if (u.state === 'sent') set.sentAt = new Date(u.at);
      else set.settledAt = new Date(u.at);
      if (u.error) set.error = u.error;
      // A settled command stays settled, whatever a late 'sent' in the same batch says.
      const filter =
        u.state === 'sent'
          ? { _id: commandId(c.depotId, u.cmd), state: { $in: ['queued', 'sent'] } }
          : { _id: commandId(c.depotId, u.cmd) };
      commandOps.push({ updateOne: { filter, update: { $set: set } } });
      if (u.pinId && u.op === 'set_pin' && u.state !== 'sent') {
        pinOps.push({
          updateOne: {
            filter: { _id: u.pinId, state: 'pending' },
            update: { $set: { state: u.state === 'succeeded' ? 'active' : 'failed' } },
          },
        });
      }
      if (u.pinId && u.op === 'revoke_pin' && u.state === 'succeeded') {
        pinOps.push({
          updateOne: { filter: { _id: u.pinId }, update: { $set: { state: 'revoked', revokedAt: new Date(u.at) } } },
        });
      }
      if (u.hb) {
        depotOps.push({ updateOne: { filter: { _id: c.depotId }, update: { $set: { heartbeatSeconds: u.hb } } } });
      }
    }
    // A depot counts uses of its own PINs only: an id it names from another depot changes nothing.
    for (const pinId of c.pinUses) {
      pinOps.push({ updateOne: { filter: { _id: pinId, depotId: c.depotId }, update: { $inc: { usesSeen: 1 } } } });
    }
  }

  // History first, then state: a crash in between leaves an entry without its state change, never
  // a state without the entry that explains it. The journal makes the entries durable; they reach
  // `depot_history` behind the ACKs (history-journal.ts).
  // The journal (history-journal.ts) is switched off until the database-outage test's failures
  // with it are understood: the entries are inserted before the ACK, as before it.
  void journal;
  for (const part of chunks(history, MAX_INSERTS)) {
    await byStringId<StringIdDoc>(DepotHistory)
      .insertMany(part.map(historyDoc), { ordered: false })
      .catch((err: unknown) => {
        if (!isDuplicateKeyError(err)) throw err;
      });
  }
  await log.append([...states]);
  for (const [depotId, state] of states) {
    const known = durable.get(depotId);
    if (!known || known.rev < state.rev) durable.set(depotId, state);
  }
  for (const part of chunks(depotOps, MAX_UPDATES))
    await byStringId<StringIdDoc>(Depot).bulkWrite(part, { ordered: false });
  for (const part of chunks(commandOps, MAX_UPDATES)) await byStringId<StringIdDoc>(DepotCommand).bulkWrite(part);
  for (const part of chunks(pinOps, MAX_UPDATES)) await byStringId<PinRow>(DepotPin).bulkWrite(part);
}
