import { describe, expect, it } from 'vitest';
import { accept, emptyReplayState, wouldAccept, type ReplayState } from '../../../protocol/src/telegram/index.js';

function run(steps: Array<[number, number]>): boolean[] {
  let state: ReplayState = emptyReplayState();
  return steps.map(([epoch, seq]) => {
    const next = accept(state, epoch, seq);
    if (next) state = next;
    return next !== undefined;
  });
}

describe('anti-replay window', () => {
  it('accepts rising seqs and refuses each one the second time', () => {
    expect(
      run([
        [1, 1],
        [1, 2],
        [1, 3],
        [1, 2],
        [1, 3],
        [1, 4],
      ]),
    ).toEqual([true, true, true, false, false, true]);
  });

  it('accepts late telegrams within the 64 below the highest, once', () => {
    expect(
      run([
        [1, 100],
        [1, 37],
        [1, 37],
        [1, 36],
        [1, 99],
      ]),
    ).toEqual([true, true, false, false, true]);
  });

  it('starts again at a higher epoch and refuses an older epoch', () => {
    expect(
      run([
        [1, 500],
        [2, 1],
        [1, 501],
        [2, 2],
        [2, 1],
      ]),
    ).toEqual([true, true, false, true, false]);
  });

  it('keeps the window across big jumps', () => {
    expect(
      run([
        [1, 1],
        [1, 1000],
        [1, 999],
        [1, 1],
        [1, 937],
        [1, 936],
      ]),
    ).toEqual([true, true, true, false, true, false]);
  });

  it('can be tested before decrypting without changing anything', () => {
    const state = accept(emptyReplayState(), 3, 10) as ReplayState;
    expect(wouldAccept(state, 3, 10)).toBe(false);
    expect(wouldAccept(state, 3, 11)).toBe(true);
    expect(state).toEqual({ epoch: 3, highest: 10, bitmap: 1n });
  });
});
