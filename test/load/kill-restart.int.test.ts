import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { eventually, exited, startServer, testDatabaseUri, type TestServer } from '../helpers/server.js';
import { DepotFleet, depotViews, ledger } from './fleet.js';

/** Depots in the fleet, and key movements per second across it. */
const DEPOTS = 60;
const EVENTS_PER_SECOND = 40;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('kill -9 of the server under load', () => {
  it('loses and doubles no acknowledged event, and the depots come back online by themselves', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-kill-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const mongoUri = testDatabaseUri();
    let server: TestServer = await startServer({ dataDir, env: { MONGODB_URI: mongoUri } });
    cleanups.push(() => server.stop());
    const admin = await createFirstAdmin(server);
    const files = await DepotFleet.register(admin, DEPOTS, 5);

    const fleet = new DepotFleet();
    cleanups.push(() => fleet.stop());
    await fleet.start(files, `127.0.0.1:${server.udpPort}`, 1000);
    fleet.run(EVENTS_PER_SECOND);
    await eventually(() => fleet.ackedCount >= 100, 20_000, 'the first hundred events acknowledged');
    await sleep(1500);

    // Mid-stream: no shutdown, no flush. The depots go on generating while the server is gone.
    const udpPort = server.udpPort;
    const killed = exited(server.process);
    server.process.kill('SIGKILL');
    await killed;
    const killedAt = Date.now();
    const ackedAtKill = fleet.ackedCount;
    await sleep(2000);

    server = await startServer({ dataDir, env: { MONGODB_URI: mongoUri, KIS_UDP_PORT: String(udpPort) } });
    cleanups.push(() => server.stop());
    await sleep(3000);
    fleet.pause();
    await fleet.settle(60_000);

    const books = await ledger(fleet, mongoUri);
    expect(books.acked).toBe(books.generated);
    expect(books.acked).toBeGreaterThan(ackedAtKill);
    expect(books.lost).toEqual([]);
    expect(books.doubled).toEqual([]);
    expect(books.invented).toEqual([]);

    // Nobody restarted the depots: their heartbeats and repeats brought them back.
    const operator = new ApiClient(server, '198.51.100.7');
    expect((await operator.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
    await eventually(
      async () => {
        const views = await depotViews(operator);
        return (
          views.length === DEPOTS &&
          views.every((v) => v.online && v.lastSeen !== null && Date.parse(v.lastSeen) > killedAt)
        );
      },
      20_000,
      'every depot online and heard from after the restart',
    );

    // The compartments show what the depots last reported, key by key.
    const views = new Map((await depotViews(operator)).map((v) => [v.depotId, v]));
    for (const depot of fleet.depots) {
      const view = views.get(depot.depotId);
      expect(view?.comps.map((c) => c.key)).toEqual(depot.sim.comps.map((c) => c.key));
    }
  });
});
