import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import type { Telegram } from '@kis/protocol/telegram';
import { initialLiveState, type LiveState, type PendingCommand } from '../../../server/src/depots/live-state.js';
import { depotMachine, type DepotCommit } from '../../../server/src/depots/machine.js';

const HB = 10_000;

function start(live: LiveState = initialLiveState(2), commands: PendingCommand[] = []) {
  const commits: DepotCommit[] = [];
  const actor = createActor(depotMachine, {
    input: {
      depotId: '0000000000000042',
      heartbeatMs: HB,
      live,
      lastEv: 0,
      replay: { epoch: 0, highest: 0, bitmap: 0n },
      commands,
      returnTimes: {},
      now: () => Date.now(),
      effects: { commit: (c) => commits.push(c) },
    },
  });
  actor.start();
  return { actor, commits };
}

let seq = 0;
function telegram(t: Telegram) {
  seq += 1;
  return {
    type: 'TELEGRAM' as const,
    telegram: t,
    seq,
    address: '127.0.0.1:5000',
    receivedAt: Date.now(),
    replay: { epoch: 1, highest: seq, bitmap: 1n },
  };
}
const heartbeat = (door: 'open' | 'closed' = 'closed', key2 = true): Telegram => ({
  name: 'HEARTBEAT',
  payload: {
    up: 1,
    door,
    comps: [
      { n: 1, key: true, locked: true },
      { n: 2, key: key2, locked: true },
    ],
    power: 'mains',
  },
});

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-11-24T12:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('depot machine', () => {
  it('goes offline exactly 3 heartbeat intervals after the last telegram, and every telegram restarts the clock', () => {
    const { actor, commits } = start();
    actor.send(telegram(heartbeat()));
    expect(actor.getSnapshot().value).toEqual({ online: 'normal' });
    vi.advanceTimersByTime(2 * HB);
    actor.send(telegram(heartbeat()));
    vi.advanceTimersByTime(3 * HB - 1);
    expect(actor.getSnapshot().matches('online')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(actor.getSnapshot().value).toBe('offline');
    const offline = commits.at(-1);
    expect(offline?.history).toEqual([{ at: Date.now(), source: 'server', kind: 'offline' }]);
  });

  it('counts a heartbeat taken as liveness only like any telegram for the offline clock', () => {
    const { actor, commits } = start();
    actor.send(telegram(heartbeat()));
    vi.advanceTimersByTime(2 * HB);
    const live = { ...actor.getSnapshot().context.live, lastSeen: Date.now(), up: 2 };
    actor.send({ type: 'LIVENESS', live, replay: { epoch: 1, highest: 99, bitmap: 1n } });
    expect(actor.getSnapshot().context.live).toBe(live);
    expect(commits).toHaveLength(1); // the runtime makes the commit of a LIVENESS itself
    vi.advanceTimersByTime(3 * HB - 1);
    expect(actor.getSnapshot().matches('online')).toBe(true);
    vi.advanceTimersByTime(1);
    expect(actor.getSnapshot().value).toBe('offline');
  });

  it('records what a heartbeat changed, not that it came', () => {
    const { actor, commits } = start();
    actor.send(telegram(heartbeat()));
    actor.send(telegram(heartbeat()));
    expect(commits[1]?.history).toEqual([]);
    actor.send(telegram(heartbeat('open', false)));
    expect(commits[2]?.history.map((h) => h.kind)).toEqual(['door_opened', 'key_removed']);
    expect(commits[2]?.live.comps).toEqual([
      { n: 1, key: true, locked: true },
      { n: 2, key: false, locked: true },
    ]);
    actor.send(telegram(heartbeat('open', true)));
    expect(commits[3]?.history.map((h) => h.kind)).toEqual(['key_returned']);
    expect(commits[3]?.live.comps.map((c) => c.key)).toEqual([true, true]);
    expect(commits[2]?.live.comps.map((c) => c.key)).toEqual([true, false]);
  });

  it('goes into alarm when the power fails and back to normal when it returns', () => {
    const { actor } = start();
    const onBattery = (power: 'mains' | 'battery'): Telegram => ({
      name: 'HEARTBEAT',
      payload: { up: 1, door: 'closed', comps: [{ n: 1, key: true, locked: true }], power },
    });
    actor.send(telegram(onBattery('mains')));
    expect(actor.getSnapshot().value).toEqual({ online: 'normal' });
    actor.send(telegram(onBattery('battery')));
    expect(actor.getSnapshot().value).toEqual({ online: 'alarm' });
    actor.send(telegram(onBattery('battery')));
    expect(actor.getSnapshot().value).toEqual({ online: 'alarm' });
    actor.send(telegram(onBattery('mains')));
    expect(actor.getSnapshot().value).toEqual({ online: 'normal' });
  });

  it('applies an event once and acknowledges every repeat', () => {
    const { actor, commits } = start();
    const ev: Telegram = { name: 'EVENT', payload: { ev: 5, t: Date.now(), kind: 'tamper' } };
    actor.send(telegram(ev));
    actor.send(telegram(ev));
    expect(commits[0]?.ack?.ev).toEqual([5]);
    expect(commits[1]?.ack?.ev).toEqual([5]);
    expect(commits[0]?.raised.map((a) => a.kind)).toEqual(['tamper']);
    expect(commits[1]?.raised).toEqual([]);
    expect(actor.getSnapshot().value).toEqual({ online: 'alarm' });
  });

  it('gives a command up as expired when no RESULT comes in time', () => {
    const { actor, commits } = start();
    actor.send(telegram(heartbeat()));
    actor.send({
      type: 'COMMAND',
      command: {
        cmd: 1,
        payload: { cmd: 1, op: 'open', comp: 1 },
        state: 'queued',
        attempts: 0,
        expiresAt: Date.now() + 60_000,
      },
    });
    expect(commits.at(-1)?.send).toEqual([{ cmd: 1, payload: { cmd: 1, op: 'open', comp: 1 } }]);
    vi.advanceTimersByTime(60_000);
    expect(commits.at(-1)?.commandUpdates).toEqual([expect.objectContaining({ cmd: 1, state: 'expired' })]);
    expect(actor.getSnapshot().context.commands).toEqual([]);
  });

  it('comes back offline after a restart when its time ran out while the server was down', () => {
    const live = { ...initialLiveState(2), online: true, lastSeen: Date.now() - 4 * HB };
    const { actor, commits } = start(live);
    expect(actor.getSnapshot().value).toBe('offline');
    expect(commits[0]?.history[0]).toMatchObject({ kind: 'offline', at: Date.now() - HB });
  });
});
