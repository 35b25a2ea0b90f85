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
    expect(slowReserved).toBe(24); // a crash skips at most two
    // Once reservations last longer than their time, the step shrinks again.
    const before = fast.forWrite({ epoch: 3, highest: fastReserved + 1, bitmap: 1n }, 10_000) - fastReserved - 1;
    const after =
      fast.forWrite({ epoch: 3, highest: fastReserved + before + 2, bitmap: 1n }, 10_000 + 5 * RESERVATION_MS) -
      (fastReserved + before + 2);
    expect(after).toBeLessThan(before);
  });

  it('asks for the next reservation once half of the step is used, while the durable one still covers', () => {
    const reservation = new ReplayReservation(windowUpTo(0));
    let reserved = reservation.forWrite(windowUpTo(1), 0);
    reservation.confirm(windowUpTo(1), reserved);
    // A depot at one telegram a second: every telegram is covered, and a renewal is due well before
    // the depot reaches the end of the durable reservation.
    let renewals = 0;
    for (let seq = 2; seq <= 200; seq++) {
      const window = windowUpTo(seq);
      expect(reservation.covers(window)).toBe(true);
      const next = reservation.renewal(window, seq * 1000);
      if (next === undefined) continue;
      renewals += 1;
      expect(next).toBeGreaterThan(reserved);
      // Asked for, not yet durable: no second renewal, the old reservation still covers.
      expect(reservation.renewal(window, seq * 1000)).toBeUndefined();
      reservation.confirm(window, next);
      reserved = next;
    }
    // The step settles near ten seconds of the depot's telegrams: about one write in ten or fewer.
    expect(renewals).toBeGreaterThan(3);
    expect(renewals).toBeLessThan(30);
  });

  it('asks for no renewal past a write that failed: the depot passes the durable reservation and its next write carries the one asked for', () => {
    const reservation = new ReplayReservation(windowUpTo(0));
    const first = reservation.forWrite(windowUpTo(1), 0);
    reservation.confirm(windowUpTo(1), first);
    let seq = 2;
    let asked: number | undefined;
    while (asked === undefined) asked = reservation.renewal(windowUpTo(seq++), seq * 1000);
    // The write of `asked` failed: it is never confirmed.
    for (; seq <= first; seq++) expect(reservation.renewal(windowUpTo(seq), seq * 1000)).toBeUndefined();
    expect(reservation.covers(windowUpTo(first + 1))).toBe(false);
    expect(reservation.forWrite(windowUpTo(first + 1), seq * 1000)).toBe(asked);
  });

  it('renews a reservation half used up when a state is written anyway (an event), so the heartbeats after it need no write', () => {
    const reservation = new ReplayReservation(windowUpTo(0));
    const first = reservation.forWrite(windowUpTo(1), 0);
    reservation.confirm(windowUpTo(1), first);
    // Events one after another, each written: the reservation keeps ahead of them by half a step.
    let reserved = first;
    for (let seq = 2; seq <= 50; seq++) {
      reserved = reservation.forWrite(windowUpTo(seq), seq * 100);
      reservation.confirm(windowUpTo(seq), reserved);
      expect(reserved).toBeGreaterThan(seq);
    }
    // The next heartbeat is covered and needs no renewal yet.
    expect(reservation.covers(windowUpTo(51))).toBe(true);
    expect(reservation.renewal(windowUpTo(51), 5100)).toBeUndefined();
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
