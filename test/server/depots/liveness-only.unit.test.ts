import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HeartbeatPayload } from '@kis/protocol/telegram';
import { absorbHeartbeat, livenessOnly, type LiveState } from '../../../server/src/depots/live-state.js';

const nullableBool = fc.constantFrom(null, true, false);

const liveState: fc.Arbitrary<LiveState> = fc.record({
  online: fc.boolean(),
  lastSeen: fc.option(fc.nat(), { nil: null }),
  address: fc.option(fc.constantFrom('10.0.0.1:4000', '10.0.0.2:4000'), { nil: null }),
  fw: fc.constant('kd-2'),
  hw: fc.constant('KD-4'),
  up: fc.option(fc.nat(), { nil: null }),
  door: fc.constantFrom('open', 'closed', 'unknown'),
  power: fc.constantFrom('mains', 'battery', 'unknown'),
  batt: fc.option(fc.nat(100), { nil: null }),
  rssi: fc.option(fc.integer({ min: -120, max: 0 }), { nil: null }),
  temp: fc.option(fc.integer({ min: -20, max: 60 }), { nil: null }),
  comps: fc
    .array(fc.record({ key: nullableBool, locked: nullableBool }), { minLength: 1, maxLength: 4 })
    .map((list) => list.map((c, i) => ({ n: i + 1, ...c }))),
  alarms: fc.constant([]),
  loans: fc.constant([]),
}) as fc.Arbitrary<LiveState>;

const heartbeat: fc.Arbitrary<HeartbeatPayload> = fc.record(
  {
    up: fc.nat(),
    door: fc.constantFrom('open', 'closed'),
    power: fc.constantFrom('mains', 'battery'),
    comps: fc
      .uniqueArray(fc.integer({ min: 1, max: 5 }), { maxLength: 5 })
      .chain((ns) =>
        fc.tuple(...ns.map((n) => fc.record({ n: fc.constant(n), key: fc.boolean(), locked: fc.boolean() }))),
      ),
    batt: fc.nat(100),
    rssi: fc.integer({ min: -120, max: 0 }),
    temp: fc.integer({ min: -20, max: 60 }),
  },
  { requiredKeys: ['up', 'door', 'power', 'comps'] },
) as fc.Arbitrary<HeartbeatPayload>;

describe('a heartbeat that changes only liveness', () => {
  it('gives exactly the state the full path gives, with nothing for the history', () => {
    let taken = 0;
    fc.assert(
      fc.property(
        liveState,
        heartbeat,
        fc.nat(),
        fc.constantFrom('10.0.0.1:4000', '10.0.0.3:4000'),
        (live, hb, at, address) => {
          const fast = livenessOnly(live, hb, at, address);
          if (!fast) return;
          taken++;
          const full = absorbHeartbeat({ ...live, lastSeen: at, address }, hb, at);
          expect(fast).toEqual(full.live);
          expect(full.history).toEqual([]);
          expect(full.raised).toEqual([]);
        },
      ),
      { numRuns: 2000 },
    );
    // The property said something: the fast path was taken in some of the runs.
    expect(taken).toBeGreaterThan(20);
  });

  it('is not taken for a depot that is offline, or when the door, the power or a compartment changed', () => {
    const live: LiveState = {
      online: true,
      lastSeen: 1,
      address: '10.0.0.1:4000',
      fw: 'kd-2',
      hw: 'KD-4',
      up: 1,
      door: 'closed',
      power: 'mains',
      batt: null,
      rssi: null,
      temp: null,
      comps: [{ n: 1, key: true, locked: true }],
      alarms: [],
      loans: [],
    };
    const hb: HeartbeatPayload = { up: 2, door: 'closed', power: 'mains', comps: [{ n: 1, key: true, locked: true }] };
    expect(livenessOnly(live, hb, 2, '10.0.0.1:4000')).toMatchObject({ lastSeen: 2, up: 2 });
    expect(livenessOnly({ ...live, online: false }, hb, 2, '10.0.0.1:4000')).toBeUndefined();
    expect(livenessOnly(live, { ...hb, door: 'open' }, 2, '10.0.0.1:4000')).toBeUndefined();
    expect(livenessOnly(live, { ...hb, power: 'battery' }, 2, '10.0.0.1:4000')).toBeUndefined();
    expect(
      livenessOnly(live, { ...hb, comps: [{ n: 1, key: false, locked: true }] }, 2, '10.0.0.1:4000'),
    ).toBeUndefined();
  });
});
