/**
 * Load run: a fleet of simulated depots (a heartbeat each per interval, key movements on top,
 * unacknowledged events repeated) and dashboard tabs watching them over Socket.IO, against one KIS
 * server for minutes. Reports telegram-to-browser latency, ACK times, the server's memory over the
 * run (is it flat?), and the books: every event a depot heard acknowledged must be in the database,
 * once. Prints one JSON object.
 *
 *   npm run bench:load                                  # 10,000 depots, 1,000 tabs, 10 minutes
 *   npm run bench:load -- --depots 1000 --tabs 100 --minutes 1
 *
 * One sending socket stands for the fleet (the server keeps each depot's address; all are the same
 * here). Talks to 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import {
  Direction,
  openTelegram,
  parseHeader,
  sealTelegram,
  type AckPayload,
  type TelegramTypeName,
} from '@kis/protocol/telegram';
import type { ClientToServerEvents, DepotLiveView, ServerToClientEvents } from '@kis/protocol/realtime';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { treeCpuSeconds } from './process-watch.js';
import {
  BENCH_PASSWORD,
  adminSession,
  insertBenchDepots,
  log,
  startServer,
  stats,
  stopServer,
  storedEvents,
  type BenchDepot,
} from './common.js';

const { values } = parseArgs({
  options: {
    depots: { type: 'string', default: '10000' },
    tabs: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '10' },
    heartbeat: { type: 'string', default: '60' },
    events: { type: 'string', default: '20' },
    'retry-seconds': { type: 'string', default: '5' },
  },
});
const DEPOTS = Number(values.depots);
const TABS = Number(values.tabs);
const MINUTES = Number(values.minutes);
const HEARTBEAT_S = Number(values.heartbeat);
const EVENTS_PER_S = Number(values.events);
const RETRY_MS = Number(values['retry-seconds']) * 1000;
/** Tabs per signed-in browser (each browser its own session and address). */
const TABS_PER_SESSION = 10;
const COMPARTMENTS = 4;

/** A depot of the fleet: its counters, physical state and what waits for an ACK. */
interface FleetDepot extends BenchDepot {
  nextEv: number;
  keys: boolean[];
  unacked: Map<number, { payload: Record<string, unknown>; firstSentAt: number; sentAt: number }>;
  acked: Set<number>;
  /** The key movement whose arrival in a browser is being timed. */
  probe: { comp: number; key: boolean; t0: number } | undefined;
}

type Tab = Socket<ServerToClientEvents, ClientToServerEvents>;

function seal(depot: FleetDepot, name: TelegramTypeName, payload: Record<string, unknown>): Buffer {
  depot.seq += 1;
  return sealTelegram(
    depot.key,
    Direction.DEPOT_TO_SERVER,
    { name, depotId: depot.id, keyId: 1, epoch: depot.epoch, seq: depot.seq },
    payload,
  );
}

function heartbeat(depot: FleetDepot): Buffer {
  return seal(depot, 'HEARTBEAT', {
    up: 3600,
    door: 'closed',
    comps: depot.keys.map((key, i) => ({ n: i + 1, key, locked: true })),
    power: 'mains',
    batt: 100,
  });
}

/** Logs a browser in from its own address and returns its cookie and CSRF token. */
async function login(url: string, ip: string): Promise<{ cookie: string; csrfToken: string; ip: string }> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ email: 'bench@kis.test', password: BENCH_PASSWORD }),
  });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!res.ok || !cookie) throw new Error(`login from ${ip} failed: ${res.status}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { cookie, csrfToken, ip };
}

/** The samples of the server's own metrics that tell memory, CPU and event loop. */
async function serverGauges(
  url: string,
): Promise<{ rssMb: number; heapMb: number; cpuSeconds: number; lagMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    rssMb: value('kis_process_resident_memory_bytes') / 2 ** 20,
    heapMb: value('kis_nodejs_heap_size_used_bytes') / 2 ** 20,
    cpuSeconds: value('kis_process_cpu_seconds_total'),
    lagMs: value('kis_nodejs_eventloop_lag_p99_seconds') * 1000,
  };
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-load-db-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-load-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  const uri = `${mongoBase}kis_load_${randomBytes(4).toString('hex')}`;
  try {
    log(`registering ${DEPOTS} depots …`);
    const depots: FleetDepot[] = (await insertBenchDepots(uri, dataDir, DEPOTS, COMPARTMENTS, HEARTBEAT_S)).map(
      (d) => ({
        ...d,
        nextEv: 1,
        keys: Array.from({ length: COMPARTMENTS }, () => true),
        unacked: new Map(),
        acked: new Set(),
        probe: undefined,
      }),
    );
    const byId = new Map(depots.map((d) => [d.id, d]));
    const server = await startServer(mongoBase, { MONGODB_URI: uri, KIS_TRUST_PROXY: 'loopback' }, dataDir);
    try {
      await adminSession(server);
      const sessions = Math.ceil(TABS / TABS_PER_SESSION);
      log(`signing in ${sessions} browsers and opening ${TABS} tabs …`);
      const browsers = [];
      for (let i = 0; i < sessions; i++)
        browsers.push(await login(server.url, `10.${Math.floor(i / 250) + 1}.${i % 250}.${1 + (i % 200)}`));
      const perTab = Math.ceil(DEPOTS / TABS);
      const latencies: number[] = [];
      let updates = 0;
      let disconnects = 0;
      const depotOf = new Map(depots.map((d) => [d.depotId, d]));
      const onUpdate = (view: DepotLiveView): void => {
        updates++;
        const depot = depotOf.get(view.depotId);
        const probe = depot?.probe;
        if (!depot || !probe) return;
        if (view.comps[probe.comp - 1]?.key === probe.key) {
          latencies.push(performance.now() - probe.t0);
          depot.probe = undefined;
        }
      };
      const tabs: Tab[] = [];
      const watching = new Set<Tab>();
      const watchFailures: string[] = [];
      for (let t = 0; t < TABS; t++) {
        const browser = browsers[Math.floor(t / TABS_PER_SESSION)];
        if (!browser) break;
        const tab: Tab = io(server.url, {
          transports: ['websocket'],
          extraHeaders: { cookie: browser.cookie, 'x-forwarded-for': browser.ip },
          auth: { csrfToken: browser.csrfToken, identity: 0 },
        });
        const watch = depots.slice(t * perTab, (t + 1) * perTab).map((d) => d.depotId);
        tab.on('connect', () => {
          tab
            .timeout(60_000)
            .emitWithAck('depots:watch', { depotIds: watch })
            .then(
              (ack) => (ack.ok ? watching.add(tab) : watchFailures.push(JSON.stringify(ack))),
              (err: unknown) => watchFailures.push(String(err)),
            );
        });
        tab.on('disconnect', () => disconnects++);
        tab.on('depot:update', onUpdate);
        tabs.push(tab);
      }
      const deadline = Date.now() + 120_000;
      while (watching.size < tabs.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      log(
        `${watching.size} of ${tabs.length} tabs watching; ${watchFailures.length} watches failed: ${watchFailures[0] ?? ''}`,
      );
      if (watching.size < tabs.length) {
        for (const line of server.stdout().split('\n')) if (/"level":[56]0/.test(line)) log(line.slice(0, 400));
      }
      disconnects = 0;

      const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      const counts = { heartbeats: 0, events: 0, repeats: 0, acks: 0, undecodable: 0 };
      const eventAckMs: number[] = [];
      const send = (datagram: Buffer): void => udp.send(datagram, server.udpPort, '127.0.0.1');
      udp.on('message', (msg) => {
        const parsed = parseHeader(msg);
        const depot = parsed.ok ? byId.get(parsed.header.depotId) : undefined;
        if (!parsed.ok || !depot) return void counts.undecodable++;
        const opened = openTelegram(depot.key, Direction.SERVER_TO_DEPOT, parsed.header, msg);
        if (!opened.ok || opened.telegram.name !== 'ACK') return;
        counts.acks++;
        const ack: AckPayload = opened.telegram.payload;
        for (const ev of ack.ev ?? []) {
          const pending = depot.unacked.get(ev);
          if (pending) eventAckMs.push(Date.now() - pending.firstSentAt);
          depot.unacked.delete(ev);
          depot.acked.add(ev);
        }
      });

      log(
        `running ${MINUTES} min: ${DEPOTS} depots, a heartbeat each per ${HEARTBEAT_S} s, ${EVENTS_PER_S} key movements/s …`,
      );
      // Everybody says HELLO-equivalent first: one heartbeat each, spread over a few seconds.
      const started = Date.now();
      const memory: Array<{ minute: number; rssMb: number; heapMb: number; lagMs: number }> = [];
      const cpuAtStart = (await serverGauges(server.url)).cpuSeconds;
      // The client's own CPU (sealing, opening ACKs, the tabs' sockets) and the database's (this
      // process's other children), to tell whether the client or the database limits the run.
      const clientCpuAtStart = process.cpuUsage();
      // The client's own event loop: a late loop makes every latency it measures late too.
      const clientLag = monitorEventLoopDelay({ resolution: 10 });
      clientLag.enable();
      const databaseCpuAtStart = await treeCpuSeconds(process.pid, [server.child.pid ?? 0]);
      let heartbeatsDue = 0;
      let hbNext = 0;
      let eventsOwed = 0;
      const TICK = 50;
      let running = true;
      const ticker = setInterval(() => {
        const now = Date.now();
        const elapsed = now - started;
        if (running) {
          // Heartbeats spread evenly over the interval, each depot once per interval.
          const due = Math.floor((elapsed * DEPOTS) / (HEARTBEAT_S * 1000)) + DEPOTS / 10;
          for (; heartbeatsDue < due; heartbeatsDue++) {
            const depot = depots[hbNext++ % DEPOTS];
            if (depot) send(heartbeat(depot));
            counts.heartbeats++;
          }
          eventsOwed += (EVENTS_PER_S * TICK) / 1000;
          for (; eventsOwed >= 1; eventsOwed--) {
            const depot = depots[Math.floor(Math.random() * DEPOTS)];
            if (!depot || depot.probe) continue;
            const comp = 1 + Math.floor(Math.random() * COMPARTMENTS);
            const key = !depot.keys[comp - 1];
            depot.keys[comp - 1] = key;
            const payload = { ev: depot.nextEv++, t: now, kind: key ? 'key_returned' : 'key_removed', comp };
            depot.unacked.set(payload.ev, { payload, firstSentAt: now, sentAt: now });
            depot.probe = { comp, key, t0: performance.now() };
            send(seal(depot, 'EVENT', payload));
            counts.events++;
          }
        }
        // Unacknowledged events are repeated as new telegrams, as depots do.
        if (elapsed % 1000 < TICK) {
          for (const depot of depots)
            for (const pending of depot.unacked.values())
              if (now - pending.sentAt >= RETRY_MS) {
                pending.sentAt = now;
                send(seal(depot, 'EVENT', pending.payload));
                counts.repeats++;
              }
        }
      }, TICK);
      const sampler = setInterval(() => {
        void serverGauges(server.url).then((g) =>
          memory.push({
            minute: round((Date.now() - started) / 60_000, 2),
            rssMb: round(g.rssMb),
            heapMb: round(g.heapMb),
            lagMs: round(g.lagMs),
          }),
        );
      }, 10_000);
      for (let m = 1; m <= MINUTES * 2; m++) {
        await new Promise((r) => setTimeout(r, 30_000));
        const last = memory.at(-1);
        log(
          `  ${m / 2} min: ${counts.heartbeats + counts.events + counts.repeats} telegrams, ${latencies.length} browser samples, RSS ${last?.rssMb ?? '?'} MB`,
        );
      }
      running = false;
      const disconnectsDuringRun = disconnects;
      const runSeconds = (Date.now() - started) / 1000;
      const cpuSeconds = (await serverGauges(server.url)).cpuSeconds - cpuAtStart;
      const clientCpu = process.cpuUsage(clientCpuAtStart);
      const databaseCpuSeconds = (await treeCpuSeconds(process.pid, [server.child.pid ?? 0])) - databaseCpuAtStart;
      clearInterval(sampler);
      clientLag.disable();
      log('settling: waiting for the last events to be acknowledged …');
      const settleDeadline = Date.now() + 120_000;
      while (depots.some((d) => d.unacked.size) && Date.now() < settleDeadline)
        await new Promise((r) => setTimeout(r, 500));
      clearInterval(ticker);
      const unackedAtEnd = depots.reduce((s, d) => s + d.unacked.size, 0);
      for (const tab of tabs) tab.close();
      udp.close();

      log('checking the books against the database …');
      const stored = await storedEvents(uri);
      let acked = 0;
      let lost = 0;
      for (const d of depots)
        for (const ev of d.acked) {
          acked++;
          if (!stored.get(d.depotId)?.has(ev)) lost++;
        }
      const doubled = [...stored.values()].reduce(
        (sum, perDepot) => sum + [...perDepot.values()].filter((n) => n > 1).length,
        0,
      );

      const secondHalf = memory.filter((s) => s.minute >= MINUTES / 2);
      // Minute one is the warm-up: every depot's first heartbeat loads its state. Flat means from
      // minute two on.
      const secondMinute = memory.filter((s) => s.minute > 1 && s.minute <= Math.min(2.01, MINUTES));
      const lastMinute = memory.filter((s) => s.minute >= Math.max(MINUTES - 1, 2.01));
      // null where the run was too short to have the window (shorter than 3 minutes).
      const median = (xs: number[]): number | null => (xs.length ? round(stats(xs).median) : null);
      process.stdout.write(
        `${JSON.stringify(
          {
            benchmark: 'load',
            machine: { cpus: os.cpus().length, node: process.version },
            database: db.kind,
            depots: DEPOTS,
            tabs: tabs.length,
            sessions,
            minutes: MINUTES,
            heartbeatSeconds: HEARTBEAT_S,
            keyMovementsPerSecond: EVENTS_PER_S,
            telegrams: {
              ...counts,
              perSecond: Math.round((counts.heartbeats + counts.events + counts.repeats) / runSeconds),
            },
            books: { generated: counts.events, acked, lost, doubled, unackedAtEnd },
            eventAckMs: stats(eventAckMs),
            telegramToBrowserMs: { samples: latencies.length, ...stats(latencies) },
            browsers: { updatesReceived: updates, disconnectsDuringRun, watchFailures: watchFailures.length },
            clientCpuShare: round((clientCpu.user + clientCpu.system) / 1e6 / runSeconds, 3),
            clientEventLoopDelayMs: {
              median: round(clientLag.percentile(50) / 1e6),
              p99: round(clientLag.percentile(99) / 1e6),
              max: round(clientLag.max / 1e6),
            },
            databaseCpuShare: round(databaseCpuSeconds / runSeconds, 3),
            server: {
              cpuShare: round(cpuSeconds / runSeconds, 3),
              rssMb: {
                secondMinuteMedian: median(secondMinute.map((s) => s.rssMb)),
                lastMinuteMedian: median(lastMinute.map((s) => s.rssMb)),
                min: Math.min(...memory.map((s) => s.rssMb)),
                max: Math.max(...memory.map((s) => s.rssMb)),
                slopeSecondHalfMbPerMin: round(slope(secondHalf.map((s) => [s.minute, s.rssMb])), 2),
              },
              heapMb: {
                secondMinuteMedian: median(secondMinute.map((s) => s.heapMb)),
                lastMinuteMedian: median(lastMinute.map((s) => s.heapMb)),
                slopeSecondHalfMbPerMin: round(slope(secondHalf.map((s) => [s.minute, s.heapMb])), 2),
              },
              eventLoopLagP99Ms: stats(memory.map((s) => s.lagMs)),
              samples: memory,
            },
          },
          null,
          2,
        )}\n`,
      );
    } finally {
      await stopServer(server);
    }
  } finally {
    await db.stop();
    await rm(dbDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
