import type { ReplayState } from '@kis/protocol/telegram';
import type { LiveState } from './live-state.js';
import { widenedToReservation } from './replay-reservation.js';
import { DepotStateMeta, DepotStates, STATE_GENERATIONS, type StateGeneration } from './model.js';

/** What is durable about a depot's changing state. */
export interface DurableState {
  /** One up per entry of this depot; the highest is the newest. */
  rev: number;
  live: LiveState;
  lastEv: number;
  replay: ReplayState;
  /** The seq up to which telegrams of `replay.epoch` may have been accepted (replay-reservation.ts). */
  reserved: number;
  sendEpoch: number;
}

const META_ID = 'states';
/** The most states one page holds (a page of snapshot or catch-up; an append is one page). */
const PAGE_STATES = 1000;

/** A replay window and its reservation as stored (entries of older versions may lack fields). */
interface StoredReplay {
  epoch?: number | null;
  highest?: number | null;
  bitmap?: string | null;
  reserved?: number | null;
}

/** One depot's state as a page stores it (and as a log written before pages stored each state). */
export interface StateEntry {
  d: string;
  rev: number;
  live: LiveState;
  lastEv: number;
  replay: StoredReplay;
  sendEpoch: number;
}

const utf8 = new TextDecoder();

/** A page of states: their JSON as one binary value (model.ts says why). */
function toPage(states: Array<[string, DurableState]>): { p: Buffer; n: number } {
  return { p: Buffer.from(JSON.stringify(states.map(([id, state]) => toEntry(id, state)))), n: states.length };
}

/**
 * The entries of a stored log document: a page's states, or the one state of a document written
 * before pages (read as it is until the next rotation rewrites it).
 */
export function entriesOf(doc: Record<string, unknown>): StateEntry[] {
  const page = doc.p as { buffer?: Uint8Array } | Uint8Array | undefined;
  if (page === undefined) return typeof doc.d === 'string' ? [doc as unknown as StateEntry] : [];
  const bytes = page instanceof Uint8Array ? page : (page.buffer ?? new Uint8Array());
  return JSON.parse(utf8.decode(bytes)) as StateEntry[];
}

/** Drops a generation's collection (instant on every engine, unlike deleting its entries). */
async function drop(generation: StateGeneration): Promise<void> {
  await DepotStates[generation].collection.drop().catch((err: unknown) => {
    // Dropping a collection that does not exist is fine.
    if ((err as { codeName?: string }).codeName !== 'NamespaceNotFound') throw err;
  });
}

/** A stored window, widened to its reservation (what a restart after a crash must assume). */
export function storedReplay(stored: StoredReplay): { replay: ReplayState; reserved: number } {
  const replay = widenedToReservation(
    { epoch: stored.epoch ?? 0, highest: stored.highest ?? 0, bitmap: BigInt(`0x${stored.bitmap || '0'}`) },
    stored.reserved ?? undefined,
  );
  return { replay, reserved: replay.highest };
}

function toDurable(doc: StateEntry): DurableState {
  return {
    rev: doc.rev,
    live: doc.live,
    lastEv: doc.lastEv,
    ...storedReplay(doc.replay),
    sendEpoch: doc.sendEpoch,
  };
}

function toEntry(depotId: string, state: DurableState): StateEntry {
  return {
    d: depotId,
    rev: state.rev,
    live: state.live,
    lastEv: state.lastEv,
    replay: storableReplay(state),
    sendEpoch: state.sendEpoch,
  };
}

/** The window and reservation of a state as stored. */
export function storableReplay(state: Pick<DurableState, 'replay' | 'reserved'>): {
  epoch: number;
  highest: number;
  bitmap: string;
  reserved: number;
} {
  return {
    epoch: state.replay.epoch,
    highest: state.replay.highest,
    bitmap: state.replay.bitmap.toString(16),
    reserved: Math.max(state.reserved ?? 0, state.replay.highest),
  };
}

/**
 * The append-only log of depot states in two generations. Entries go to the current generation;
 * {@link StateLog.rotate} writes a snapshot into the other one, makes it current and drops the old
 * one. Reading takes the newest entry per depot from both, so a crash mid-rotation loses nothing.
 */
export class StateLog {
  private current: StateGeneration = 'a';
  /** Entries appended since the last rotation. */
  appended = 0;

  async init(): Promise<void> {
    const meta = await DepotStateMeta.findOne({ _id: META_ID }).lean();
    if (meta) this.current = meta.current as StateGeneration;
    else await DepotStateMeta.updateOne({ _id: META_ID }, { $setOnInsert: { current: 'a' } }, { upsert: true });
  }

  /** The newest state of every depot in the log. */
  async loadAll(): Promise<Map<string, DurableState>> {
    const newest = new Map<string, StateEntry>();
    await this.eachEntry((entry) => {
      const known = newest.get(entry.d);
      if (!known || known.rev < entry.rev) newest.set(entry.d, entry);
    });
    this.appended = newest.size;
    return new Map([...newest].map(([id, entry]) => [id, toDurable(entry)]));
  }

  /**
   * The newest state of one depot, if the log has one. Reads the whole log: it is asked only for a
   * depot that was not loaded (registered, or enabled again), which is rare; a loaded depot's
   * newest state is the writer's.
   */
  async latest(depotId: string): Promise<DurableState | undefined> {
    let newest: StateEntry | undefined;
    await this.eachEntry((entry) => {
      if (entry.d === depotId && (!newest || newest.rev < entry.rev)) newest = entry;
    });
    return newest ? toDurable(newest) : undefined;
  }

  private async eachEntry(visit: (entry: StateEntry) => void): Promise<void> {
    for (const generation of STATE_GENERATIONS) {
      for await (const doc of DepotStates[generation].collection.find({})) {
        for (const entry of entriesOf(doc)) visit(entry);
      }
    }
  }

  /** Appends states (one per depot) as one page. */
  async append(states: Array<[string, DurableState]>): Promise<void> {
    if (states.length === 0) return;
    // Through the driver, as one binary value: mongoose's casting of every entry cost the server
    // more CPU than anything else on a heartbeat's path (--cpu-prof, 10,000 depots), and FerretDB
    // took 0.13 ms per state stored as fields against 0.013 ms in a page (model.ts).
    await DepotStates[this.current].collection.insertOne(toPage(states));
    this.appended += states.length;
  }

  /**
   * Starts a new generation with a snapshot (the newest durable state of every loaded depot) and
   * drops the old one. Call only while no append runs (the writer does it in two steps instead,
   * see {@link StateLog.prepareRotation}).
   */
  async rotate(snapshot: Array<[string, DurableState]>): Promise<void> {
    await this.prepareRotation(snapshot);
    await this.finishRotation([], snapshot.length);
  }

  /**
   * First step of a rotation: writes the snapshot into the other generation. Appends go on into
   * the current one meanwhile (10,000 depots take seconds to write on FerretDB, and holding every
   * ACK that long made the load run's p99 2.4 s). A crash now loses nothing: reading takes the
   * newest entry per depot from both generations.
   */
  async prepareRotation(snapshot: Array<[string, DurableState]>): Promise<void> {
    const next: StateGeneration = this.current === 'a' ? 'b' : 'a';
    // The next generation may hold leftovers of a rotation a crash interrupted: start it clean.
    await drop(next);
    for (let i = 0; i < snapshot.length; i += PAGE_STATES) {
      await DepotStates[next].collection.insertOne(toPage(snapshot.slice(i, i + PAGE_STATES)));
    }
  }

  /**
   * Second step, while no append runs: writes what changed since the snapshot (`catchUp`) into the
   * new generation, makes it current and drops the old one. `entries` is how many the new
   * generation then holds.
   */
  async finishRotation(catchUp: Array<[string, DurableState]>, entries: number): Promise<void> {
    const next: StateGeneration = this.current === 'a' ? 'b' : 'a';
    const old = this.current;
    for (let i = 0; i < catchUp.length; i += PAGE_STATES) {
      await DepotStates[next].collection.insertOne(toPage(catchUp.slice(i, i + PAGE_STATES)));
    }
    await DepotStateMeta.updateOne({ _id: META_ID }, { $set: { current: next } });
    this.current = next;
    this.appended = entries;
    await drop(old);
  }
}
