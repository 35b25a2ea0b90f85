/**
 * The depot side of the telegram benchmarks: many depots on one UDP socket, their telegrams sealed
 * before the clock starts (so the client's own encryption is not what is measured), sent either as
 * fast as answers come back with a bounded number unanswered, or at a fixed rate. Each depot has at
 * most one telegram unanswered, as a real depot does; an answer is matched by the depot id in its
 * header (bytes 4–12). The client measures its own CPU, so a run can show it was not the bottleneck.
 */
import dgram from 'node:dgram';
import { stats } from './common.js';

/** One depot's telegrams, sealed ahead, sent in order. */
export interface SealedQueue {
  id: bigint;
  telegrams: Buffer[];
  next: number;
}

/** How a run sends: as fast as answers come (`window` unanswered at most), or `rate` per second. */
export type Pace = { window: number } | { rate: number; window: number };

export interface DriveResult {
  /** Telegrams sent and answered in the timed run. */
  sent: number;
  answered: number;
  /** Unanswered after the timeout (a datagram the kernel dropped, or one the server never answered). */
  lost: number;
  seconds: number;
  perSecond: number;
  /** Send → answer, ms. */
  rttMs: ReturnType<typeof stats> & { max: number };
  /** The client's CPU over the run, as a share of one core (1 = one core busy all the time). */
  clientCpu: number;
}

/** How long a telegram may stay unanswered before it counts as lost and frees its depot. */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Sends every telegram of `queues` to 127.0.0.1:`port` and times each answer. With a rate, the
 * telegrams due are sent every millisecond (open loop: a slow server shows as growing round trips,
 * not as a slower client), skipping depots that still wait for an answer; `window` then only bounds
 * memory.
 */
export async function drive(port: number, queues: SealedQueue[], pace: Pace): Promise<DriveResult> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 << 20, sendBufferSize: 16 << 20 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const total = queues.reduce((sum, q) => sum + q.telegrams.length - q.next, 0);
  const byId = new Map(queues.map((q) => [q.id, q]));
  const inFlight = new Map<bigint, number>();
  const rtts: number[] = [];
  let sent = 0;
  let answered = 0;
  let lost = 0;
  let cursor = 0;
  const rate = 'rate' in pace ? pace.rate : undefined;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();

  /** The next depot with a telegram left and none unanswered, round robin; undefined when none is. */
  const nextQueue = (): SealedQueue | undefined => {
    for (let tries = queues.length; tries > 0; tries--) {
      const queue = queues[cursor] as SealedQueue;
      cursor = (cursor + 1) % queues.length;
      if (queue.next < queue.telegrams.length && !inFlight.has(queue.id)) return queue;
    }
    return undefined;
  };
  const sendOne = (): boolean => {
    const queue = nextQueue();
    if (!queue) return false;
    const telegram = queue.telegrams[queue.next] as Buffer;
    queue.telegrams[queue.next] = Buffer.alloc(0); // sent: let it go
    queue.next += 1;
    inFlight.set(queue.id, performance.now());
    sent++;
    socket.send(telegram, port, '127.0.0.1');
    return true;
  };

  return new Promise((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      socket.close();
      resolve({
        sent,
        answered,
        lost,
        seconds: Math.round(seconds * 100) / 100,
        perSecond: Math.round(answered / seconds),
        rttMs: { ...stats(rtts), max: Math.round(rtts.reduce((a, b) => Math.max(a, b), 0) * 10) / 10 },
        clientCpu: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
      });
    };
    const pump = (): void => {
      if (rate === undefined) {
        while (inFlight.size < pace.window && sendOne());
      } else {
        const due = Math.floor(((performance.now() - started) / 1000) * rate) - sent;
        for (let i = 0; i < due && inFlight.size < pace.window; i++) if (!sendOne()) break;
      }
      if (answered + lost >= total) finish();
    };
    socket.on('message', (msg) => {
      if (msg.length < 12) return;
      const id = msg.readBigUInt64BE(4);
      const at = inFlight.get(id);
      if (at === undefined || !byId.has(id)) return;
      inFlight.delete(id);
      rtts.push(performance.now() - at);
      answered++;
      if (rate === undefined) pump();
      else if (answered + lost >= total) finish();
    });
    let swept = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      if (now - swept > 250) {
        swept = now;
        for (const [id, at] of inFlight) {
          if (now - at > ANSWER_TIMEOUT_MS) {
            inFlight.delete(id);
            lost++;
          }
        }
      }
      pump();
    }, 1);
    pump();
  });
}

/**
 * A bare dgram loop that answers every datagram with its first 24 bytes, in its own process: the
 * ceiling of what the same client can measure on this machine.
 */
export const ECHO_SOURCE = `const s=require('node:dgram').createSocket({type:'udp4',recvBufferSize:16<<20,sendBufferSize:16<<20});
s.on('message',(m,r)=>s.send(m.subarray(0,24),r.port,r.address));
s.bind(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'));`;
