import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DepotLiveView } from '@kis/protocol/realtime';
import type { AckPayload } from '@kis/protocol/telegram';
import type { SimulatedDepot } from '../../../scripts/simulator/depot.js';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { connectSocket } from '../../helpers/areas.js';
import { registerDepot, simulate } from '../../helpers/depots.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: ApiClient;
let depot: SimulatedDepot;
let depotId: string;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  server = await startServer();
  admin = await createFirstAdmin(server);
  const { provisioning } = await registerDepot(admin, { compartments: 4 });
  depotId = provisioning.depotId;
  // Heartbeats only when the test sends them.
  depot = simulate(provisioning, { heartbeatMs: 3_600_000 });
  await depot.start();
  await eventually(
    async () => (await admin.get<{ online: boolean }>(`/api/depots/${depotId}`)).body.online,
    5000,
    'online',
  );
});
afterAll(async () => {
  for (const close of closers) await close();
  await depot?.stop();
  await server?.stop();
});

/** Sends a heartbeat and waits for its ACK. */
function heartbeatAcked(): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ACK')), 2000);
    depot.once('ack', (_ack: AckPayload) => {
      clearTimeout(timer);
      resolve();
    });
    depot.heartbeat();
  });
}

describe('live depot views in the browser', () => {
  it('sends a burst of heartbeats that change only liveness once, and a key taken at once', async () => {
    const socket = await connectSocket(server, admin);
    closers.push(() => socket.close());
    const updates: DepotLiveView[] = [];
    socket.on('depot:update', (view) => updates.push(view));
    const watched = await socket.timeout(5000).emitWithAck('depots:watch', { depotIds: [depotId] });
    expect(watched.ok).toBe(true);

    // Ten heartbeats within a second: the page learns the depot was seen, not ten times over.
    for (let i = 0; i < 10; i++) await heartbeatAcked();
    await new Promise((r) => setTimeout(r, 300));
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(2);

    // A key taken is news: it is on the page at once, whatever came just before.
    const before = updates.length;
    const taken = Date.now();
    depot.takeKey(3);
    await eventually(
      async () => updates.slice(before).some((view) => view.comps[2]?.key === false),
      5000,
      'the key taken on the page',
    );
    // Within the 5 s that liveness waits: not held back by the heartbeats just before.
    expect(Date.now() - taken).toBeLessThan(1000);
  });
});
