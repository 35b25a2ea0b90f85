import type { Db } from 'mongodb';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, disconnectDatabase } from '../../../server/src/db/connection.js';
import { initialLiveState } from '../../../server/src/depots/live-state.js';
import { DepotStates } from '../../../server/src/depots/model.js';
import type { DepotCommit } from '../../../server/src/depots/machine.js';
import { StateLog, type DurableState } from '../../../server/src/depots/state-log.js';
import { CommitWriter } from '../../../server/src/depots/writer.js';
import { storedStateEntries } from '../../helpers/depots.js';
import { testDatabaseUri } from '../../helpers/server.js';

function state(rev: number, door: 'open' | 'closed'): DurableState {
  return {
    rev,
    live: { ...initialLiveState(2), door, lastSeen: 1_767_225_600_000 + rev },
    lastEv: rev * 10,
    replay: { epoch: 4, highest: rev, bitmap: (1n << 63n) | 1n },
    reserved: rev,
    sendEpoch: 9,
  };
}

/** The states stored in both generations, page by page. */
async function storedStates(): Promise<number> {
  return storedStateEntries(mongoose.connection.db as Db);
}

beforeAll(async () => {
  await connectDatabase(testDatabaseUri());
});
afterAll(async () => {
  await disconnectDatabase();
});

describe('depot state log', () => {
  it('gives back the newest state of each depot, the 64-bit window intact, across a rotation', async () => {
    const log = new StateLog();
    await log.init();
    await log.append([
      ['00000000000000a1', state(1, 'closed')],
      ['00000000000000b2', state(1, 'closed')],
    ]);
    await log.append([['00000000000000a1', state(2, 'open')]]);
    await log.append([['00000000000000a1', state(3, 'closed')]]);
    expect(log.appended).toBe(4);

    const before = await new StateLog().loadAll();
    expect(before.get('00000000000000a1')).toEqual(state(3, 'closed'));
    expect(await log.latest('00000000000000a1')).toEqual(state(3, 'closed'));

    // Rotation: only the snapshot survives, in the other generation; the old one is gone.
    await log.rotate([['00000000000000a1', state(3, 'closed')]]);
    expect(log.appended).toBe(1);
    const reopened = new StateLog();
    await reopened.init();
    const after = await reopened.loadAll();
    expect([...after.keys()]).toEqual(['00000000000000a1']);
    expect(after.get('00000000000000a1')?.replay.bitmap).toBe((1n << 63n) | 1n);
    expect(await storedStates()).toBe(1);

    // New entries go to the new generation and win by revision.
    await reopened.append([['00000000000000a1', state(4, 'open')]]);
    expect((await new StateLog().loadAll()).get('00000000000000a1')?.rev).toBe(4);
  });

  it('gives back a window widened to its reservation, and the exact one once a later entry has no reservation', async () => {
    const log = new StateLog();
    await log.init();
    await log.append([['00000000000000e5', { ...state(7, 'closed'), reserved: 30 }]]);
    const widened = (await new StateLog().loadAll()).get('00000000000000e5');
    expect(widened?.replay).toEqual({ epoch: 4, highest: 30, bitmap: (1n << 64n) - 1n });
    expect(widened?.reserved).toBe(30);
    // A clean stop writes the window exactly: nothing is skipped after it.
    await log.append([['00000000000000e5', { ...state(8, 'closed'), reserved: 8 }]]);
    expect((await new StateLog().loadAll()).get('00000000000000e5')?.replay).toEqual(state(8, 'closed').replay);
  });

  it('loses nothing when a rotation was cut short, and reads a log written before pages until a rotation rewrites it', async () => {
    const log = new StateLog();
    await log.init();
    // As if a crash left the snapshot written but the old generation not yet dropped; the newer
    // state is an entry of its own, as every state was stored before pages.
    await DepotStates.a.collection.insertMany([
      {
        d: '00000000000000c3',
        rev: 7,
        live: state(7, 'open').live,
        lastEv: 70,
        replay: { epoch: 4, highest: 7, bitmap: '1' },
        sendEpoch: 9,
      } as never,
    ]);
    const page = [
      {
        d: '00000000000000c3',
        rev: 6,
        live: state(6, 'closed').live,
        lastEv: 60,
        replay: { epoch: 4, highest: 6, bitmap: '1' },
        sendEpoch: 9,
      },
    ];
    await DepotStates.b.collection.insertOne({ p: Buffer.from(JSON.stringify(page)), n: 1 } as never);
    const loaded = await log.loadAll();
    expect(loaded.get('00000000000000c3')?.rev).toBe(7);
    expect((await log.latest('00000000000000c3'))?.live.door).toBe('open');

    await log.rotate([...loaded]);
    const docs = [
      ...(await DepotStates.a.collection.find({}).toArray()),
      ...(await DepotStates.b.collection.find({}).toArray()),
    ];
    expect(docs.every((doc) => doc.p !== undefined)).toBe(true);
    expect((await new StateLog().loadAll()).get('00000000000000c3')?.live.door).toBe('open');
  });

  it('rotates the log from the writer once it holds more entries than the limit, keeping every depot’s newest state', async () => {
    const log = new StateLog();
    await log.init();
    const writer = new CommitWriter(log, () => 5);
    const commit = (depotId: string, rev: number): DepotCommit => {
      const s = state(rev, rev % 2 ? 'open' : 'closed');
      return {
        depotId,
        rev,
        live: s.live,
        lastEv: s.lastEv,
        replay: s.replay,
        sendEpoch: 9,
        history: [],
        commandUpdates: [],
        pinUses: [],
        send: [],
        raised: [],
      };
    };
    for (let rev = 1; rev <= 4; rev++) {
      await Promise.all(['00000000000000d1', '00000000000000d2'].map((id) => writer.write(commit(id, rev))));
    }
    // The snapshot is written beside the batches; the switch follows once it is.
    await writer.settled();
    // 8 entries went in; past 5 the writer rotated: one snapshot entry per depot remains, plus later ones.
    expect(log.appended).toBeLessThan(8);
    expect(await storedStates()).toBeLessThan(8);
    const loaded = await new StateLog().loadAll();
    expect(loaded.get('00000000000000d1')?.rev).toBe(4);
    expect(loaded.get('00000000000000d2')?.live.door).toBe('closed');
  });
});
