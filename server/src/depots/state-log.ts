import type { ReplayState } from '@kis/protocol/telegram';
import type { LiveState } from './live-state.js';
import { widenedToReservation } from './replay-reservation.js';
import { DepotStateMeta, DepotStates, STATE_GENERATIONS, type StateDoc, type StateGeneration } from './model.js';

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

/** Drops a generation's collection (instant on every engine, unlike deleting its entries). */
async function drop(generation: StateGeneration): Promise<void> {
  await DepotStates[generation].collection.drop().catch((err: unknown) => {
    // Dropping a collection that does not exist is fine.
    if ((err as { codeName?: string }).codeName !== 'NamespaceNotFound') throw err;
  });
}

/** A stored window, widened to its reservation (what a restart after a crash must assume). */
export function storedReplay(stored: {
  epoch?: number | null;
  highest?: number | null;
  bitmap?: string | null;
  reserved?: number | null;
}): { replay: ReplayState; reserved: number } {
  const replay = widenedToReservation(
    { epoch: stored.epoch ?? 0, highest: stored.highest ?? 0, bitmap: BigInt(`0x${stored.bitmap || '0'}`) },
    stored.reserved ?? undefined,
  );
  return { replay, reserved: replay.highest };
}

function toDurable(doc: StateDoc): DurableState {
  return {
    rev: doc.rev,
    live: doc.live as LiveState,
    lastEv: doc.lastEv,
    ...storedReplay(doc.replay),
    sendEpoch: doc.sendEpoch,
  };
}

function toEntry(depotId: string, state: DurableState): Omit<StateDoc, '_id'> {
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
export function storableReplay(state: Pick<DurableState, 'replay' | 'reserved'>): StateDoc['replay'] {
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
    const newest = new Map<string, StateDoc>();
    for (const generation of STATE_GENERATIONS) {
      for await (const doc of DepotStates[generation].find().lean().cursor()) {
        const d = doc as StateDoc;
        const known = newest.get(d.d);
        if (!known || known.rev < d.rev) newest.set(d.d, d);
      }
    }
    this.appended = newest.size;
    return new Map([...newest].map(([id, doc]) => [id, toDurable(doc)]));
  }

  /** The newest state of one depot, if the log has one. */
  async latest(depotId: string): Promise<DurableState | undefined> {
    const found = await Promise.all(
      STATE_GENERATIONS.map((g) => DepotStates[g].find({ d: depotId }).sort({ rev: -1 }).limit(1).lean()),
    );
    const docs = (found.flat() as StateDoc[]).sort((x, y) => y.rev - x.rev);
    return docs[0] ? toDurable(docs[0]) : undefined;
  }

  /** Appends states (one per depot, in one insert). */
  async append(states: Array<[string, DurableState]>): Promise<void> {
    if (states.length === 0) return;
    // Through the driver: mongoose's casting and validation of every entry cost the server more
    // CPU than anything else on a heartbeat's path (--cpu-prof, 10,000 depots).
    await DepotStates[this.current].collection.insertMany(
      states.map(([id, state]) => toEntry(id, state)),
      { ordered: true },
    );
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
    for (let i = 0; i < snapshot.length; i += 1000) {
      await DepotStates[next].collection.insertMany(
        snapshot.slice(i, i + 1000).map(([id, state]) => toEntry(id, state)),
      );
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
    for (let i = 0; i < catchUp.length; i += 1000) {
      await DepotStates[next].collection.insertMany(
        catchUp.slice(i, i + 1000).map(([id, state]) => toEntry(id, state)),
      );
    }
    await DepotStateMeta.updateOne({ _id: META_ID }, { $set: { current: next } });
    this.current = next;
    this.appended = entries;
    await drop(old);
  }
}
