/**
 * Benchmark: depot telegrams through the whole path (UDP → authenticate → actor → durable write →
 * ACK) with 10,000 registered depots, beside a bare dgram echo loop measured in the same run (the
 * ceiling); then telegram-to-browser latency over Socket.IO. Prints one JSON object.
 *
 *   npm run bench:depots [-- --depots 10000 --telegrams 5000 --window 64]
 *
 * Talks to 127.0.0.1 only.
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
import { adminSession, insertBenchDepots, log, startServer, stats, stopServer, type BenchDepot } from './common.js';

const { values } = parseArgs({
  options: {
    depots: { type: 'string', default: '10000' },
    telegrams: { type: 'string', default: '5000' },
    window: { type: 'string', default: '64' },
    browser: { type: 'string', default: '300' },
  },
});
const DEPOTS = Number(values.depots);
const TELEGRAMS = Number(values.telegrams);
const WINDOW = Number(values.window);
const BROWSER_SAMPLES = Number(values.browser);

function heartbeat(depot: BenchDepot): Buffer {
  return seal(depot, 'HEARTBEAT', {
    up: 3600,
    door: 'closed',
    comps: [
      { n: 1, key: true, locked: true },
      { n: 2, key: true, locked: true },
    ],
    power: 'mains',
    batt: 100,
  });
}

function seal(depot: BenchDepot, name: TelegramTypeName, payload: Record<string, unknown>): Buffer {
  depot.seq += 1;
  return sealTelegram(
    depot.key,
    Direction.DEPOT_TO_SERVER,
    { name, depotId: depot.id, keyId: 1, epoch: depot.epoch, seq: depot.seq },
    payload,
  );
}

/**
 * Sends `total` telegrams with at most `window` unanswered, each depot one at a time, and times
 * every answer. Answers are matched by the depot id in their header (bytes 4–12).
 */
async function drive(
  port: number,
  depots: BenchDepot[],
  total: number,
  window: number,
): Promise<{ perSecond: number; rttMs: ReturnType<typeof stats>; lost: number }> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const inFlight = new Map<bigint, number>();
  const rtts: number[] = [];
  let sent = 0;
  let answered = 0;
  let lost = 0;
  let next = 0;
  const started = performance.now();
  return new Promise((resolve) => {
    const pump = (): void => {
      let guard = depots.length;
      while (inFlight.size < window && sent < total && guard-- > 0) {
        const depot = depots[next++ % depots.length] as BenchDepot;
        if (inFlight.has(depot.id)) continue;
        inFlight.set(depot.id, performance.now());
        sent++;
        socket.send(heartbeat(depot), port, '127.0.0.1');
      }
      if (answered + lost >= total) finish();
    };
    const finish = (): void => {
      clearInterval(sweeper);
      const seconds = (performance.now() - started) / 1000;
      socket.close();
      resolve({ perSecond: Math.round(answered / seconds), rttMs: stats(rtts), lost });
    };
    socket.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readBigUInt64BE(4);
      const at = inFlight.get(id);
      if (at === undefined) return;
      inFlight.delete(id);
      rtts.push(performance.now() - at);
      answered++;
      pump();
    });
    // A datagram the kernel dropped never gets an answer: free its slot after 30 s and count it.
    const sweeper = setInterval(() => {
      const now = performance.now();
      for (const [id, at] of inFlight) {
        if (now - at > 30_000) {
          inFlight.delete(id);
          lost++;
        }
      }
      pump();
    }, 500);
    pump();
  });
}

/** A bare dgram loop in its own process that answers every datagram with its first 24 bytes. */
async function startEcho(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s=require('node:dgram').createSocket({type:'udp4',recvBufferSize:8<<20});
       s.on('message',(m,r)=>s.send(m.subarray(0,24),r.port,r.address));
       s.bind(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString()))),
  );
  return { port, stop: () => child.kill() };
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
  try {
    log(`registering ${DEPOTS} depots …`);
    const depots = await insertBenchDepots(uri, dataDir, DEPOTS, 2);

    log('bare dgram echo (the ceiling) …');
    const echo = await startEcho();
    const ceilingDepots = depots.map((d) => ({ ...d, seq: 0, epoch: 999 }));
    await drive(echo.port, ceilingDepots, Math.min(TELEGRAMS, 10_000), WINDOW);
    const ceiling = await drive(echo.port, ceilingDepots, TELEGRAMS, WINDOW);
    echo.stop();

    log('KIS: starting the server with the depots …');
    const server = await startServer(mongoBase, { MONGODB_URI: uri }, dataDir);
    try {
      log('KIS: first telegram of every depot (warm-up: each comes online) …');
      await drive(server.udpPort, depots, DEPOTS, WINDOW);
      log(`KIS: ${TELEGRAMS} heartbeats …`);
      const kis = await drive(server.udpPort, depots, TELEGRAMS, WINDOW);
      log(JSON.stringify(kis));
      const memoryMb =
        Number(
          /kis_process_resident_memory_bytes (\d+)/.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0,
        ) /
        2 ** 20;

      log('telegram → browser latency …');
      log(
        server
          .stdout()
          .split('\n')
          .filter((l) => !l.includes('"component":"http"'))
          .slice(-6)
          .join('\n'),
      );
      const session = await adminSession(server);
      const browser = await browserLatency(server.url, depots[0] as BenchDepot, session, server.udpPort);

      process.stdout.write(
        `${JSON.stringify(
          {
            benchmark: 'depot-telegrams',
            machine: { cpus: os.cpus().length, node: process.version },
            database: db.kind,
            depots: DEPOTS,
            telegrams: TELEGRAMS,
            window: WINDOW,
            ceiling: { what: 'bare dgram echo, same client', ...ceiling },
            kis: {
              what: 'HEARTBEAT → authenticate → actor → durable write → ACK',
              ...kis,
              serverRssMb: Math.round(memoryMb),
            },
            kisShareOfCeiling: Math.round((kis.perSecond / ceiling.perSecond) * 100) / 100,
            telegramToBrowserMs: { samples: BROWSER_SAMPLES, ...browser },
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
