import { describe, expect, it } from 'vitest';
import { accept, emptyReplayState, wouldAccept, type ReplayState } from '@kis/protocol/telegram';
import {
  RESERVATION_MS,
  ReplayReservation,
  widenedToReservation,
} from '../../../server/src/depots/replay-reservation.js';

/** The window after accepting seqs 1 … n of epoch 3. */
function windowUpTo(n: number): ReplayState {
  let state = emptyReplayState();
  for (let seq = 1; seq <= n; seq++) state = accept(state, 3, seq) as ReplayState;
  return state;
}

describe('replay reservation', () => {
  it('covers nothing beyond what is durable, and only after the write is confirmed', () => {
    const reservation = new ReplayReservation(windowUpTo(1));
    expect(reservation.covers(windowUpTo(1))).toBe(true);
    expect(reservation.covers(windowUpTo(2))).toBe(false);
    const reserved = reservation.forWrite(windowUpTo(2), 0);
    expect(reserved).toBeGreaterThanOrEqual(4); // at least two telegrams ahead
    expect(reservation.covers(windowUpTo(3))).toBe(false); // asked for, not yet written
    reservation.confirm(windowUpTo(2), reserved);
    expect(reservation.covers(windowUpTo(reserved))).toBe(true);
    expect(reservation.covers(windowUpTo(reserved + 1))).toBe(false);
    // Within the reservation, a write keeps it; a new epoch (the depot restarted) is never covered.
    expect(reservation.forWrite(windowUpTo(3), 10)).toBe(reserved);
    expect(reservation.covers({ epoch: 4, highest: 1, bitmap: 1n })).toBe(false);
  });

  it('sizes the step by the depot’s pace: growing while used up fast, two ahead for a depot that sends once a minute', () => {
    const fast = new ReplayReservation(windowUpTo(0));
    const slow = new ReplayReservation(windowUpTo(0));
    let fastReserved = 0;
    let slowReserved = 0;
    for (let i = 1; i <= 8; i++) {
      fastReserved = fast.forWrite({ epoch: 3, highest: fastReserved + 1, bitmap: 1n }, i * 10);
      slowReserved = slow.forWrite({ epoch: 3, highest: slowReserved + 1, bitmap: 1n }, i * 60_000);
    }
    expect(fastReserved - 8).toBeGreaterThan(100);
    expect(slowReserved).toBe(24); // every third telegram written: a crash skips at most two
    // Once reservations last longer than their time, the step shrinks again.
    const before = fast.forWrite({ epoch: 3, highest: fastReserved + 1, bitmap: 1n }, 10_000) - fastReserved - 1;
    const after =
      fast.forWrite({ epoch: 3, highest: fastReserved + before + 2, bitmap: 1n }, 10_000 + 2 * RESERVATION_MS) -
      (fastReserved + before + 2);
    expect(after).toBeLessThan(before);
  });

  it('widens a stored window to its reservation: every seq up to it counts as seen, the next is new', () => {
    const widened = widenedToReservation(windowUpTo(5), 40);
    for (const seq of [1, 5, 6, 39, 40]) expect(wouldAccept(widened, 3, seq)).toBe(false);
    expect(wouldAccept(widened, 3, 41)).toBe(true);
    expect(wouldAccept(widened, 4, 1)).toBe(true);
    expect(widenedToReservation(windowUpTo(5), 5)).toEqual(windowUpTo(5));
    expect(widenedToReservation(windowUpTo(5), undefined)).toEqual(windowUpTo(5));
  });
});
