import { SimulatedClock, createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { sessionMachine } from '../../../server/src/identity/session-machine.js';

const MINUTE = 60_000;

/** A session actor on a simulated clock, recording what it told the browser. */
function start(overrides: { idleMs?: number; warnMs?: number; absoluteMs?: number } = {}) {
  const clock = new SimulatedClock();
  const told: string[] = [];
  const machine = sessionMachine.provide({
    actions: {
      warn: () => told.push('warn'),
      extended: () => told.push('extended'),
      ended: ({ context }) => told.push(`ended:${context.endReason}`),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: {
      sessionId: 's1',
      userId: 'u1',
      idleMs: overrides.idleMs ?? 30 * MINUTE,
      warnMs: overrides.warnMs ?? 2 * MINUTE,
      lastActivityAt: 0,
      absoluteExpiresAt: overrides.absoluteMs ?? 12 * 60 * MINUTE,
      now: () => clock.now(),
    },
  });
  actor.start();
  return { actor, clock, told, advance: (ms: number) => clock.increment(ms) };
}

describe('session actor', () => {
  it('warns two minutes before the idle end and ends the session at it', () => {
    const { actor, told, advance } = start();
    advance(28 * MINUTE - 1);
    expect(told).toEqual([]);
    advance(1);
    expect(told).toEqual(['warn']);
    expect(actor.getSnapshot().value).toEqual({ live: 'warned' });
    advance(2 * MINUTE);
    expect(told).toEqual(['warn', 'ended:timeout']);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('starts the idle time again on activity, also after the warning', () => {
    const { actor, told, advance } = start();
    advance(20 * MINUTE);
    actor.send({ type: 'ACTIVITY' });
    advance(20 * MINUTE);
    expect(told).toEqual([]);
    advance(9 * MINUTE);
    expect(told).toEqual(['warn']);
    actor.send({ type: 'ACTIVITY' });
    expect(told).toEqual(['warn', 'extended']);
    expect(actor.getSnapshot().value).toEqual({ live: 'active' });
    advance(29 * MINUTE);
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('ends at the absolute timeout however active the user is', () => {
    const { actor, told, advance } = start({ absoluteMs: 60 * MINUTE });
    for (let i = 0; i < 5; i++) {
      advance(10 * MINUTE);
      actor.send({ type: 'ACTIVITY' });
    }
    advance(10 * MINUTE);
    expect(told).toEqual(['ended:absolute']);
  });

  it('ends at once on logout, and ignores later events', () => {
    const { actor, told } = start();
    actor.send({ type: 'END', reason: 'logout' });
    actor.send({ type: 'ACTIVITY' });
    expect(told).toEqual(['ended:logout']);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('rehydrates with the idle time already spent before a restart', () => {
    const clock = new SimulatedClock();
    clock.set(25 * MINUTE);
    const told: string[] = [];
    const actor = createActor(
      sessionMachine.provide({ actions: { warn: () => told.push('warn'), ended: () => told.push('ended') } }),
      {
        clock,
        input: {
          sessionId: 's',
          userId: 'u',
          idleMs: 30 * MINUTE,
          warnMs: 2 * MINUTE,
          lastActivityAt: 0,
          absoluteExpiresAt: 12 * 60 * MINUTE,
          now: () => clock.now(),
        },
      },
    );
    actor.start();
    clock.increment(3 * MINUTE);
    expect(told).toEqual(['warn']);
    clock.increment(2 * MINUTE);
    expect(told).toEqual(['warn', 'ended']);
  });
});
