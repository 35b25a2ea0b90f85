import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AckPayload } from '@kis/protocol/telegram';
import type { SimulatedDepot } from '../../../scripts/simulator/depot.js';
import { createFirstAdmin } from '../../helpers/api.js';
import { registerDepot, simulate, udpCount, udpProbe } from '../../helpers/depots.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';

/** Enough cases to walk every branch of the receive path many times over. */
const RUNS = 100_000;

let server: TestServer;
let depot: SimulatedDepot;
let valid: Buffer[] = [];

const OUTCOMES = [
  'too_long',
  'too_short',
  'bad_magic',
  'bad_version',
  'bad_flags',
  'unknown_type',
  'wrong_direction',
  'unknown_depot',
  'unknown_key',
  'replay',
  'bad_tag',
  'bad_cbor',
  'bad_payload',
];

async function dropped(): Promise<number> {
  let total = 0;
  for (const outcome of OUTCOMES) total += await udpCount(server, outcome);
  return total;
}

beforeAll(async () => {
  server = await startServer();
  const admin = await createFirstAdmin(server);
  const { provisioning } = await registerDepot(admin);
  depot = simulate(provisioning);
  depot.on('sent', (d: Buffer) => valid.push(d));
  await depot.start();
  depot.takeKey(1);
  depot.openDoor();
  await eventually(() => depot.pendingEvents.length === 0, 5000, 'events acknowledged');
  valid = valid.slice(0, 4);
});
afterAll(async () => {
  await depot.stop();
  await server.stop();
});

/**
 * Datagrams an attacker or a broken network could send: random bytes of any length, and real
 * telegrams of a known depot with bytes flipped, cut, extended or their header rewritten.
 */
function hostileDatagram(): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .record({
      base: fc.constantFrom(...valid),
      flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 40 }),
    })
    .map(({ base, flips, cut, extra }) => {
      const bytes = Buffer.concat([Buffer.from(base), Buffer.from(extra)]);
      for (const f of flips) bytes[f.at % bytes.length] = (bytes[f.at % bytes.length] as number) ^ f.xor;
      return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
    });
  const withHeader = fc.uint8Array({ minLength: 0, maxLength: 1300 }).map((rest) => {
    const bytes = Buffer.alloc(22 + rest.length);
    Buffer.from(valid[0] as Buffer).copy(bytes, 0, 0, 22);
    Buffer.from(rest).copy(bytes, 22);
    return bytes;
  });
  return fc.oneof(fc.uint8Array({ maxLength: 1400 }), mutated, withHeader, fc.constantFrom(...valid));
}

describe('hostile datagrams', () => {
  it(`drops ${RUNS.toLocaleString('en')} hostile datagrams without an answer and stays alive`, async () => {
    const probe = await udpProbe(server);
    const before = await dropped();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(hostileDatagram(), async (datagram) => {
        await probe.send(datagram);
        sent++;
        // Let the server keep up now and then, so the socket buffer does not overflow.
        if (sent % 200 === 0) await new Promise((r) => setTimeout(r, 2));
      }),
      { numRuns: RUNS },
    );
    // Everything sent was seen and dropped (loopback loses nothing at this pace).
    await eventually(async () => (await dropped()) - before >= sent * 0.99, 30_000, 'drops counted');
    await new Promise((r) => setTimeout(r, 300));
    expect(probe.answers).toHaveLength(0);
    await probe.close();

    // Alive: HTTP answers and the real depot is still acknowledged.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const acked = new Promise<AckPayload>((resolve) => depot.once('ack', resolve));
    depot.heartbeat();
    expect((await acked).ack).toBeGreaterThan(0);
  });
});
