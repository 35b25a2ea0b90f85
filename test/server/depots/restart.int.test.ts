import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DepotView } from '@kis/protocol/api';
import type { AckPayload } from '@kis/protocol/telegram';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { registerDepot, simulate, udpCount, udpProbe } from '../../helpers/depots.js';
import { eventually, startServer, testDatabaseUri, type TestServer } from '../../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('depot state across a server restart', () => {
  it('drops a telegram captured before the restart, and keeps talking to the depot after it', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-restart-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const env = { MONGODB_URI: testDatabaseUri() };
    let server: TestServer = await startServer({ dataDir, env });
    const admin = await createFirstAdmin(server);
    const { provisioning } = await registerDepot(admin);
    const udpPort = server.udpPort;
    const depot = simulate({ ...provisioning, server: `127.0.0.1:${udpPort}` });
    cleanups.push(() => depot.stop());
    const captured: Buffer[] = [];
    depot.on('sent', (d: Buffer) => captured.push(d));
    await depot.start();
    const takenEv = depot.takeKey(1);
    await eventually(() => depot.pendingEvents.length === 0, 5000, 'event acknowledged');
    await server.stop();

    // Same data, same UDP port (the depot's provisioning names it).
    server = await startServer({ dataDir, env: { ...env, KIS_UDP_PORT: String(udpPort) } });
    cleanups.push(() => server.stop());
    const again = new ApiClient(server, '198.51.100.1');
    expect((await again.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
    const before = await udpCount(server, 'replay');
    const probe = await udpProbe(server);
    for (const datagram of captured) await probe.send(datagram);
    await eventually(
      async () => (await udpCount(server, 'replay')) === before + captured.length,
      5000,
      'replays counted',
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(probe.answers).toHaveLength(0);
    await probe.close();

    // The event was stored once, before the restart, and the depot's state survived.
    const view = (await again.get<DepotView>(`/api/depots/${provisioning.depotId}`)).body;
    expect(view.comps[0]).toMatchObject({ n: 1, key: false });
    const entries = (
      await again.get<{ items: Array<{ ev: number | null }> }>(`/api/depots/${provisioning.depotId}/history`)
    ).body.items;
    expect(entries.filter((e) => e.ev === takenEv)).toHaveLength(1);

    // The live depot goes on: the server answers under a new send epoch, which the depot accepts.
    const acked = new Promise<AckPayload>((resolve) => depot.once('ack', resolve));
    depot.heartbeat();
    expect((await acked).ack).toBeGreaterThan(0);
  });
});
