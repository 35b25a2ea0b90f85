import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { Ack, ClientToServerEvents, DepotLiveView, ServerToClientEvents } from '@kis/protocol/realtime';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../helpers/api.js';
import { eventually, startServer, testDatabaseUri, type TestServer } from '../helpers/server.js';
import { DepotFleet } from './fleet.js';

/** 1,000 browser tabs: 100 signed-in browsers (each its own session and address) with 10 tabs each. */
const SESSIONS = 100;
const TABS = 10;
const DEPOTS = 5;

type Tab = Socket<ServerToClientEvents, ClientToServerEvents>;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A dashboard tab: connects with its browser's cookie and token and watches its page of depots on each (re)connect, as the web app does. */
function openTab(
  url: string,
  browser: ApiClient,
  depotIds: string[],
  stats: { connects: number; watched: number },
): Tab {
  const socket: Tab = io(url, {
    transports: ['websocket'],
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    extraHeaders: { cookie: browser.cookie ?? '', 'x-forwarded-for': browser.ip, origin: url },
    auth: { csrfToken: browser.csrfToken, identity: 0 },
  });
  socket.on('connect', () => {
    stats.connects++;
    socket
      .timeout(30_000)
      .emitWithAck('depots:watch', { depotIds })
      .then(
        (ack: Ack<unknown[]>) => {
          if (ack.ok && ack.value.length === DEPOTS) stats.watched++;
        },
        () => undefined,
      );
  });
  return socket;
}

describe('1,000 dashboard tabs reconnecting at once', () => {
  it('takes every tab back after a server restart, and each sees the next key movement', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-storm-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const mongoUri = testDatabaseUri();
    let server: TestServer = await startServer({ dataDir, env: { MONGODB_URI: mongoUri } });
    cleanups.push(() => server.stop());
    const admin = await createFirstAdmin(server);
    const files = await DepotFleet.register(admin, DEPOTS, 5);
    const fleet = new DepotFleet();
    cleanups.push(() => fleet.stop());
    await fleet.start(files, `127.0.0.1:${server.udpPort}`, 1000);

    const browsers: ApiClient[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const browser = new ApiClient(server, `198.51.${100 + Math.floor(i / 200)}.${(i % 200) + 1}`);
      expect((await browser.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);
      browsers.push(browser);
    }
    const stats = { connects: 0, watched: 0 };
    const ids = fleet.depots.map((d) => d.depotId);
    const tabs: Tab[] = browsers.flatMap((b) => Array.from({ length: TABS }, () => openTab(server.url, b, ids, stats)));
    cleanups.push(async () => tabs.forEach((t) => t.close()));
    await eventually(() => stats.watched === tabs.length, 60_000, 'every tab connected and watching');

    // A restart (an update being deployed): every tab loses its connection at the same moment.
    const { httpPort, udpPort } = server;
    await server.stop();
    await eventually(() => tabs.every((t) => !t.connected), 10_000, 'every tab disconnected');
    stats.connects = 0;
    stats.watched = 0;
    server = await startServer({
      dataDir,
      env: { MONGODB_URI: mongoUri, KIS_HTTP_PORT: String(httpPort), KIS_UDP_PORT: String(udpPort) },
    });
    cleanups.push(() => server.stop());
    const restartedAt = Date.now();
    await eventually(
      () => stats.watched === tabs.length,
      60_000,
      `every tab back and watching (${stats.watched} of ${tabs.length})`,
    );
    const reconnectMs = Date.now() - restartedAt;
    expect(stats.connects).toBe(tabs.length);
    expect(tabs.every((t) => t.connected)).toBe(true);

    // The next key movement reaches every tab.
    const depot = fleet.depots[0];
    if (!depot) throw new Error('no depot');
    const seen = new Set<Tab>();
    for (const tab of tabs) {
      tab.on('depot:update', (view: DepotLiveView) => {
        if (view.depotId === depot.depotId && view.comps[2]?.key === false) seen.add(tab);
      });
    }
    depot.sim.takeKey(3);
    await eventually(() => seen.size === tabs.length, 30_000, `the key movement on every tab (${seen.size})`);

    // No tab was refused or left behind, and the server says so itself.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const open = /^kis_socket_connections (\d+)/m.exec(metrics)?.[1];
    expect(Number(open)).toBe(tabs.length);
    console.log(`[reconnect storm] ${tabs.length} tabs back and watching ${reconnectMs} ms after the restart`);
  }, 240_000);
});
