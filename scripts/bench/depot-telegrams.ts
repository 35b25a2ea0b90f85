/**
 * Benchmark: depot telegrams through the whole path (UDP → authenticate → actor → durable write →
 * ACK) with 10,000 registered depots (issue 19), beside a bare dgram echo driven by the same client
 * in the same run (the ceiling): heartbeats and events as fast as ACKs come back with up to 256
 * unanswered, then heartbeats at a fixed rate (the ACK round trip when the server is not saturated);
 * the CPU of client, server and database in each; whether every acknowledged event is stored once;
 * telegram-to-browser latency over Socket.IO; last, a restart after which every depot says HELLO
 * within one second (how long until all are online, the server's memory). Telegrams are sealed before each run starts, so
 * the client's encryption is not measured. Prints one JSON object.
 *
 *   npm run bench:depots [-- --depots 10000 --heartbeats 200000 --events 100000 --window 256
 *     --rate 10000 --rate-seconds 10 --browser 300 --profile <dir> --node-flags='<flags>']
 *
 * `--profile <dir>` starts the server with `--cpu-prof` and leaves its profile in `<dir>`;
 * `--node-flags=<flags>` passes more flags to the server's node (to measure a V8 setting). Talks to
 * 127.0.0.1 only.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { Direction, formatDepotId, sealTelegram, type TelegramTypeName } from '@kis/protocol/telegram';
import type { ClientToServerEvents, ServerToClientEvents, DepotLiveView } from '@kis/protocol/realtime';
import { provisionDatabase } from '../../server/src/db/provision.js';
import {
  adminSession,
  insertBenchDepots,
  log,
  startServer,
  stats,
  stopServer,
  storedEvents,
  type BenchDepot,
} from './common.js';
import { cpuSeconds, rssMib, treeCpuSeconds, watchPeak } from './process-watch.js';
import { ECHO_SOURCE, drive, type DriveResult, type Pace, type SealedQueue } from './udp-drive.js';

const { values } = parseArgs({
  options: {
    depots: { type: 'string', default: '10000' },
    heartbeats: { type: 'string', default: '200000' },
    events: { type: 'string', default: '100000' },
    window: { type: 'string', default: '256' },
    rate: { type: 'string', default: '10000' },
    'rate-seconds': { type: 'string', default: '10' },
    browser: { type: 'string', default: '300' },
    profile: { type: 'string' },
    'node-flags': { type: 'string' },
  },
});
const DEPOTS = Number(values.depots);
const HEARTBEATS = Number(values.heartbeats);
const EVENTS = Number(values.events);
const WINDOW = Number(values.window);
const RATE = Number(values.rate);
const RATE_SECONDS = Number(values['rate-seconds']);
const BROWSER_SAMPLES = Number(values.browser);

function seal(depot: BenchDepot, name: TelegramTypeName, payload: Record<string, unknown>): Buffer {
  depot.seq += 1;
  return sealTelegram(
    depot.key,
    Direction.DEPOT_TO_SERVER,
    { name, depotId: depot.id, keyId: 1, epoch: depot.epoch, seq: depot.seq },
    payload,
  );
}

/** A heartbeat that changes nothing but the depot's uptime. */
function heartbeat(depot: BenchDepot): Buffer {
  return seal(depot, 'HEARTBEAT', {
    up: 3600 + depot.seq,
    door: 'closed',
    comps: [
      { n: 1, key: true, locked: true },
      { n: 2, key: true, locked: true },
    ],
    power: 'mains',
    batt: 100,
  });
}

/** The HELLO of a depot that just started. */
function hello(depot: BenchDepot): Buffer {
  return seal(depot, 'HELLO', { fw: 'bench-1.0', hw: 'bench', comps: 2, reason: 'power_on' });
}

/** Event numbers per depot, across runs (each event is new to the server). */
const lastEv = new Map<bigint, number>();

/** A key taken from or returned to compartment 2, in turn. */
function event(depot: BenchDepot): Buffer {
  const ev = (lastEv.get(depot.id) ?? 0) + 1;
  lastEv.set(depot.id, ev);
  return seal(depot, 'EVENT', { ev, t: Date.now(), kind: ev % 2 ? 'key_removed' : 'key_returned', comp: 2 });
}

/** `total` telegrams made by `make`, spread evenly over the depots and sealed now. */
function sealAhead(depots: BenchDepot[], total: number, make: (depot: BenchDepot) => Buffer): SealedQueue[] {
  return depots.map((depot, i) => {
    const count = Math.floor(total / depots.length) + (i < total % depots.length ? 1 : 0);
    return { id: depot.id, telegrams: Array.from({ length: count }, () => make(depot)), next: 0 };
  });
}

/** The CPU of one side, as a share of one core over `seconds`. */
const share = (cpu: number, seconds: number): number => Math.round((cpu / seconds) * 100) / 100;

/** One timed run with the CPU of server and database beside the client's. */
async function timedRun(
  port: number,
  queues: SealedQueue[],
  pace: Pace,
  pids: { server?: number; bench: number; exclude: number[] },
): Promise<DriveResult & { serverCpu?: number; databaseCpu?: number }> {
  const server0 = pids.server ? await cpuSeconds(pids.server) : 0;
  const database0 = await treeCpuSeconds(pids.bench, pids.exclude);
  const result = await drive(port, queues, pace);
  const server1 = pids.server ? await cpuSeconds(pids.server) : 0;
  const database1 = await treeCpuSeconds(pids.bench, pids.exclude);
  return {
    ...result,
    ...(pids.server ? { serverCpu: share(server1 - server0, result.seconds) } : {}),
    databaseCpu: share(database1 - database0, result.seconds),
  };
}

/** The bare echo in its own process. */
async function startEcho(): Promise<{ port: number; pid: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', ECHO_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString()))),
  );
  return { port, pid: child.pid ?? 0, stop: () => child.kill() };
}

/** The server's history journal, read from its metrics until it is empty (at most 10 minutes). */
async function historyCaughtUp(url: string): Promise<{ seconds: number; entries: number }> {
  const t0 = performance.now();
  const journal = async (): Promise<number> =>
    Number(/kis_depot_history_journal_entries (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
  const entries = await journal();
  while ((await journal()) > 0 && performance.now() - t0 < 600_000) await new Promise((r) => setTimeout(r, 100));
  return { seconds: Math.round((performance.now() - t0) / 100) / 10, entries };
}

/** Time from sending an EVENT until a browser watching the depot gets the changed view. */
async function browserLatency(
  url: string,
  depot: BenchDepot,
  session: { cookie: string; csrfToken: string },
  port: number,
): Promise<ReturnType<typeof stats>> {
  const socket = io(url, {
    transports: ['websocket'],
    extraHeaders: { cookie: session.cookie },
    auth: { csrfToken: session.csrfToken, identity: 0 },
    reconnection: false,
  }) as Socket<ServerToClientEvents, ClientToServerEvents>;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const watched = await socket.timeout(10_000).emitWithAck('depots:watch', { depotIds: [formatDepotId(depot.id)] });
  if (!watched.ok || watched.value.length !== 1) throw new Error('could not watch the depot');
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const samples: number[] = [];
  let ev = 1_000_000;
  for (let i = 0; i < BROWSER_SAMPLES; i++) {
    const taken = i % 2 === 0;
    const arrived = new Promise<number>((resolve) => {
      const onUpdate = (view: DepotLiveView): void => {
        if (view.comps[0]?.key === !taken) {
          socket.off('depot:update', onUpdate);
          resolve(performance.now());
        }
      };
      socket.on('depot:update', onUpdate);
    });
    const t0 = performance.now();
    udp.send(
      seal(depot, 'EVENT', { ev: ev++, t: Date.now(), kind: taken ? 'key_removed' : 'key_returned', comp: 1 }),
      port,
      '127.0.0.1',
    );
    samples.push((await arrived) - t0);
  }
  udp.close();
  socket.close();
  return stats(samples);
}

async function main(): Promise<void> {
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  const uri = `${mongoBase}kis_bench_${randomBytes(4).toString('hex')}`;
  const closedLoop: Pace = { window: WINDOW };
  try {
    log(`registering ${DEPOTS} depots …`);
    const depots = await insertBenchDepots(uri, dataDir, DEPOTS, 2);

    log('bare dgram echo, the same client (the ceiling) …');
    const echo = await startEcho();
    const echoDepots = depots.map((d) => ({ ...d, seq: 0, epoch: 999 }));
    const echoPids = { bench: process.pid, exclude: [echo.pid] };
    await drive(echo.port, sealAhead(echoDepots, Math.min(HEARTBEATS, 20_000), heartbeat), closedLoop);
    const ceiling = await timedRun(echo.port, sealAhead(echoDepots, HEARTBEATS, heartbeat), closedLoop, echoPids);
    const ceilingAtRate = await timedRun(
      echo.port,
      sealAhead(echoDepots, RATE * RATE_SECONDS, heartbeat),
      { rate: RATE, window: 4 * WINDOW },
      echoPids,
    );
    echo.stop();
    log(`  ${JSON.stringify({ perSecond: ceiling.perSecond, rttMs: ceiling.rttMs, clientCpu: ceiling.clientCpu })}`);

    log('KIS: starting the server with the depots …');
    const profile = [
      ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`] : []),
      ...(values['node-flags']?.split(/\s+/).filter(Boolean) ?? []),
    ];
    let server = await startServer(mongoBase, { MONGODB_URI: uri }, dataDir, profile);
    const pids = { server: server.child.pid, bench: process.pid, exclude: [server.child.pid ?? 0] };
    try {
      log('KIS: first telegram of every depot (each comes online) …');
      await drive(server.udpPort, sealAhead(depots, DEPOTS, heartbeat), closedLoop);
      log(`KIS: ${HEARTBEATS} heartbeats, up to ${WINDOW} unanswered …`);
      const heartbeats = await timedRun(server.udpPort, sealAhead(depots, HEARTBEATS, heartbeat), closedLoop, pids);
      log(`  ${JSON.stringify(heartbeats)}`);
      log(`KIS: ${EVENTS} events, up to ${WINDOW} unanswered …`);
      const before = await storedEvents(uri);
      const events = await timedRun(server.udpPort, sealAhead(depots, EVENTS, event), closedLoop, pids);
      log(`  ${JSON.stringify(events)}`);
      // The events are durable in the history journal; this is how long their move into the
      // history collection goes on after the last ACK (it is over before the next run starts).
      const catchUp = await historyCaughtUp(server.url);
      log(
        `  history caught up ${catchUp.seconds} s after the last ACK (${catchUp.entries} entries in the journal then)`,
      );
      log(`KIS: heartbeats at ${RATE}/s for ${RATE_SECONDS} s …`);
      const atRate = await timedRun(
        server.udpPort,
        sealAhead(depots, RATE * RATE_SECONDS, heartbeat),
        { rate: RATE, window: 4 * WINDOW },
        pids,
      );
      log(`  ${JSON.stringify(atRate)}`);
      // Every event the server acknowledged is stored, once (a lost ACK only means a repeat).
      const after = await storedEvents(uri);
      let stored = 0;
      let doubled = 0;
      for (const [depotId, evs] of after) {
        for (const [ev, count] of evs) {
          if (before.get(depotId)?.has(ev)) continue;
          stored += 1;
          if (count > 1) doubled += 1;
        }
      }
      const memoryMb =
        Number(
          /kis_process_resident_memory_bytes (\d+)/.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0,
        ) /
        2 ** 20;

      log('telegram → browser latency …');
      const session = await adminSession(server);
      const browser = await browserLatency(server.url, depots[0] as BenchDepot, session, server.udpPort);

      // A power cut brings the fleet back at once: after a restart of the server, every depot
      // (restarted too: a new epoch) says HELLO within one second. Answered means online.
      log(`KIS: restart, then ${DEPOTS} depots say HELLO within one second …`);
      await stopServer(server, { keepData: true });
      server = await startServer(mongoBase, { MONGODB_URI: uri }, dataDir, profile, false);
      const burstPids = { server: server.child.pid, bench: process.pid, exclude: [server.child.pid ?? 0] };
      const rssBefore = await rssMib(server.child.pid ?? 0);
      for (const depot of depots) {
        depot.epoch += 1;
        depot.seq = 0;
      }
      const peak = watchPeak(server.child.pid ?? 0);
      const burst = await timedRun(
        server.udpPort,
        sealAhead(depots, DEPOTS, hello),
        { rate: DEPOTS, window: DEPOTS },
        burstPids,
      );
      const rssPeak = await peak.stop();
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const rssAfter = await rssMib(server.child.pid ?? 0);
      log(`  ${JSON.stringify(burst)}`);

      process.stdout.write(
        `${JSON.stringify(
          {
            benchmark: 'depot-telegrams',
            machine: { cpus: os.cpus().length, node: process.version },
            database: db.kind,
            depots: DEPOTS,
            window: WINDOW,
            what: 'CPU figures are shares of one core over the run: client (this process), server, database (FerretDB and PostgreSQL)',
            ceiling: { what: 'bare dgram echo, same client, heartbeats', ...ceiling },
            ceilingAtRate: { what: `bare dgram echo at ${RATE}/s`, ...ceilingAtRate },
            kis: {
              heartbeats: { what: 'HEARTBEAT → authenticate → actor → durable write → ACK', ...heartbeats },
              events: {
                what: 'EVENT (key taken or returned) → … → history entry stored → ACK naming it',
                ...events,
                stored,
                doubled,
                historyCaughtUp: {
                  what: 'seconds from the last ACK until the journal had moved every entry into the history collection, and how many it held at that ACK',
                  ...catchUp,
                },
              },
              heartbeatsAtRate: { what: `heartbeats sent at ${RATE}/s for ${RATE_SECONDS} s`, ...atRate },
              serverRssMb: Math.round(memoryMb),
            },
            kisShareOfCeiling: Math.round((heartbeats.perSecond / ceiling.perSecond) * 100) / 100,
            telegramToBrowserMs: { samples: BROWSER_SAMPLES, ...browser },
            burstAfterRestart: {
              what: `after a restart, ${DEPOTS} depots send HELLO within one second; seconds until the last is answered (online)`,
              ...burst,
              allOnline: burst.answered === DEPOTS,
              serverRssMiB: { before: rssBefore, peak: rssPeak, fiveSecondsAfter: rssAfter },
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
