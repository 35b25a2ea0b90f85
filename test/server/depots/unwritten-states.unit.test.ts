import { describe, expect, it } from 'vitest';
import { initialLiveState } from '../../../server/src/depots/live-state.js';
import type { DepotCommit } from '../../../server/src/depots/machine.js';
import { UnwrittenStates } from '../../../server/src/depots/unwritten-states.js';

function commit(depotId: string, rev: number): DepotCommit {
  return {
    depotId,
    rev,
    live: initialLiveState(2),
    lastEv: 0,
    replay: { epoch: 1, highest: rev, bitmap: 1n },
    history: [],
    commandUpdates: [],
    pinUses: [],
    send: [],
    raised: [],
  };
}

describe('unwritten depot states', () => {
  it('gives the due ones oldest first, at most as many as asked, each depot’s newest, and keeps the rest for the next check', () => {
    const held = new UnwrittenStates();
    for (let i = 0; i < 10; i++) held.hold(commit(`d${i}`, 1), 1000 + i);
    held.hold(commit('d0', 2), 2000); // newer, keeps its place and time
    held.drop('d1'); // written anyway

    const first = held.due(1005, 3);
    expect(first.map((c) => [c.depotId, c.rev])).toEqual([
      ['d0', 2],
      ['d2', 1],
      ['d3', 1],
    ]);
    expect(held.due(1005, 3).map((c) => c.depotId)).toEqual(['d4', 'd5']); // d6 is not due yet
    expect(held.due(Number.POSITIVE_INFINITY).map((c) => c.depotId)).toEqual(['d6', 'd7', 'd8', 'd9']);
    expect(held.due(Number.POSITIVE_INFINITY)).toEqual([]);
  });
});
