import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { DepotView } from '@kis/protocol/api';
import type { AckPayload } from '@kis/protocol/telegram';
import type { SimulatedDepot } from '../../../scripts/simulator/depot.js';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { registerDepot, simulate, storedStateEntries, udpCount, udpProbe } from '../../helpers/depots.js';
import { eventually, exited, startServer, testDatabaseUri, type TestServer } from '../../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Sends a heartbeat and waits for its ACK; false when none came within `ms`. */
function heartbeatAcked(depot: SimulatedDepot, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      depot.off('ack', onAck);
      resolve(false);
    }, ms);
    const onAck = (_ack: AckPayload): void => {
      clearTimeout(timer);
      resolve(true);
    };
    depot.once('ack', onAck);
    depot.heartbeat();
  });
}

/** The state entries the server wrote for a depot. */
async function stateEntries(mongoUri: string, depotId: string): Promise<number> {
  const client = await MongoClient.connect(mongoUri);
  try {
    return await storedStateEntries(client.db(), depotId);
  } finally {
    await client.close();
  }
}

async function setUp(): Promise<{
  server: TestServer;
  mongoUri: string;
  depot: SimulatedDepot;
  depotId: string;
  captured: Buffer[];
  restart: (how: 'SIGKILL' | 'SIGTERM') => Promise<TestServer>;
}> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-liveness-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const env = { MONGODB_URI: testDatabaseUri() };
  let server = await startServer({ dataDir, env });
  cleanups.push(() => server.stop());
  const admin = await createFirstAdmin(server);
  const { provisioning } = await registerDepot(admin);
  const udpPort = server.udpPort;
  // Heartbeats only when the test sends them.
  const depot = simulate({ ...provisioning, server: `127.0.0.1:${udpPort}` }, { heartbeatMs: 3_600_000 });
  cleanups.push(() => depot.stop());
  const captured: Buffer[] = [];
  depot.on('sent', (d: Buffer) => captured.push(d));
  await depot.start();
  await eventually(async () => (await stateEntries(env.MONGODB_URI, provisioning.depotId)) > 0, 5000, 'online');
  return {
    get server() {
      return server;
    },
    mongoUri: env.MONGODB_URI,
    depot,
    depotId: provisioning.depotId,
    captured,
    restart: async (how) => {
      if (how === 'SIGKILL') {
        const killed = exited(server.process);
        server.process.kill('SIGKILL');
        await killed;
      } else {
        await server.stop();
      }
      server = await startServer({ dataDir, env: { ...env, KIS_UDP_PORT: String(udpPort) } });
      return server;
    },
  };
}

describe('heartbeats answered before they are written', () => {
  it('answers a fast depot’s heartbeats with few writes, and after kill -9 replays none of them', async () => {
    const setup = await setUp();
    const entriesBefore = await stateEntries(setup.mongoUri, setup.depotId);
    for (let i = 0; i < 40; i++) expect(await heartbeatAcked(setup.depot)).toBe(true);
    const written = (await stateEntries(setup.mongoUri, setup.depotId)) - entriesBefore;
    expect(written).toBeLessThan(20);

    const server = await setup.restart('SIGKILL');
    // Every telegram the depot sent before the kill is a replay now, the unwritten ones included.
    const before = await udpCount(server, 'replay');
    const probe = await udpProbe(server);
    for (const datagram of setup.captured) await probe.send(datagram);
    await eventually(
      async () => (await udpCount(server, 'replay')) === before + setup.captured.length,
      5000,
      'replays counted',
    );
    expect(probe.answers).toHaveLength(0);
    await probe.close();

    // The depot loses at most the rest of its reservation (fewer telegrams than it sent since its
    // last write), then it is answered again.
    let unanswered = 0;
    while (!(await heartbeatAcked(setup.depot, 200))) unanswered++;
    expect(unanswered).toBeLessThan(40);
  });

  it('writes every window and liveness on a clean stop: the depot goes on without a skipped telegram', async () => {
    const setup = await setUp();
    for (let i = 0; i < 39; i++) expect(await heartbeatAcked(setup.depot)).toBe(true);
    const lastSentAt = Date.now();
    expect(await heartbeatAcked(setup.depot)).toBe(true);
    const server = await setup.restart('SIGTERM');
    const operator = new ApiClient(server, '198.51.100.9');
    expect((await operator.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
    const view = (await operator.get<DepotView>(`/api/depots/${setup.depotId}`)).body;
    expect(Date.parse(view.lastSeen ?? '')).toBeGreaterThanOrEqual(lastSentAt);
    expect(await heartbeatAcked(setup.depot)).toBe(true);
  });
});
