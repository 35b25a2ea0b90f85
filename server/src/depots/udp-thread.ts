/**
 * The depot socket's own thread (a worker): reading, opening, sealing and sending telegrams took
 * two fifths of the main thread's time per heartbeat (--cpu-prof: opening 13%, sealing 13%, dgram
 * send 14%), and here they run on the second core beside it. It holds copies of the depot keys and
 * nothing else with state: the main thread checks each opened telegram's window and decides what
 * to answer (udp-thread-messages.ts). Every datagram may be hostile; nothing here throws for one.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import {
  Direction,
  formatDepotId,
  isDepotToServer,
  openTelegram,
  parseHeader,
  sealTelegram,
} from '@kis/protocol/telegram';
import type { DropOutcome } from './udp-drops.js';
import type { DropExample, FromUdpThread, Peer, ToUdpThread } from './udp-thread-messages.js';

/** What the main thread starts the thread with. */
export interface UdpThreadOptions {
  host: string;
  port: number;
  recvBufferSize: number;
}

const port = parentPort;
if (!port) throw new Error('udp-thread.ts runs as a worker thread');
const options = workerData as UdpThreadOptions;

/** Keys by depot id (the u64 of the header) and key id. */
const keys = new Map<bigint, Map<number, Buffer>>();

let outbox: FromUdpThread[] = [];
let drops: { counts: Partial<Record<DropOutcome, number>>; examples: DropExample[] } | undefined;
let problems = new Map<string, number>();
let flushing = false;

/**
 * Telegrams handed on in one message at most: the main thread starts on the first while this
 * thread opens the rest (udp-listener.ts says what it measured).
 */
const MAX_POSTED = 32;

function post(message: FromUdpThread): void {
  outbox.push(message);
  if (outbox.length >= MAX_POSTED) flush();
  else scheduleFlush();
}

function scheduleFlush(): void {
  if (flushing) return;
  flushing = true;
  setImmediate(flush);
}

/** Sends what gathered during this turn of the event loop as one message. */
function flush(): void {
  flushing = false;
  if (drops) {
    outbox.push({ kind: 'dropped', ...drops });
    drops = undefined;
  }
  for (const [message, count] of problems) outbox.push({ kind: 'problem', message, count });
  problems = new Map();
  if (outbox.length === 0) return;
  const batch = outbox;
  outbox = [];
  port?.postMessage(batch);
}

function drop(reason: DropOutcome, from: Peer, depotId?: string): void {
  drops ??= { counts: {}, examples: [] };
  const seen = drops.counts[reason] ?? 0;
  drops.counts[reason] = seen + 1;
  if (seen === 0) drops.examples.push({ reason, from, ...(depotId ? { depotId } : {}) });
  scheduleFlush();
}

function problem(message: string): void {
  problems.set(message, (problems.get(message) ?? 0) + 1);
  scheduleFlush();
}

const socket = dgram.createSocket({
  type: isIPv6(options.host) ? 'udp6' : 'udp4',
  reuseAddr: false,
  // Bursts (10,000 depots reporting the same second after a network outage) must queue, not drop;
  // the kernel caps this at net.core.rmem_max.
  recvBufferSize: options.recvBufferSize,
});

socket.on('message', (datagram, rinfo) => {
  const from = { address: rinfo.address, port: rinfo.port };
  try {
    const receivedAt = Date.now();
    const parsed = parseHeader(datagram);
    if (!parsed.ok) return drop(parsed.reason, from);
    const { header } = parsed;
    if (!isDepotToServer(header.type)) return drop('wrong_direction', from);
    const key = keys.get(header.depotId)?.get(header.keyId);
    // The main thread looks up depots it may not have loaded, and knows which keys a depot lost.
    if (!key) return post({ kind: 'unknown', datagram, from, receivedAt });
    const depotId = formatDepotId(header.depotId);
    const opened = openTelegram(key, Direction.DEPOT_TO_SERVER, header, datagram);
    if (!opened.ok) return drop(opened.reason, from, depotId);
    post({
      kind: 'opened',
      depotId,
      keyId: header.keyId,
      epoch: header.epoch,
      seq: header.seq,
      telegram: opened.telegram,
      from,
      receivedAt,
    });
  } catch (err) {
    // A bug, not the datagram's fault: told, and the thread carries on.
    problem(`udp handler failed: ${err instanceof Error ? err.message : String(err)}`);
  }
});

function send(message: Extract<ToUdpThread, { kind: 'send' }>): void {
  const depotId = BigInt(`0x${message.depotId}`);
  const key = keys.get(depotId)?.get(message.keyId);
  if (!key) return problem('no key to seal with');
  const datagram = sealTelegram(
    key,
    Direction.SERVER_TO_DEPOT,
    { name: message.name, depotId, keyId: message.keyId, epoch: message.epoch, seq: message.seq },
    message.payload,
  );
  socket.send(datagram, message.to.port, message.to.address, (err) => {
    if (err) problem(`udp send failed: ${err.message}`);
  });
}

port.on('message', (batch: ToUdpThread[]) => {
  for (const message of batch) {
    try {
      if (message.kind === 'send') send(message);
      else if (message.kind === 'keys') {
        const depotId = BigInt(`0x${message.depotId}`);
        if (message.keys.length === 0) keys.delete(depotId);
        else keys.set(depotId, new Map(message.keys.map(([id, key]) => [id, Buffer.from(key)])));
      } else if (message.kind === 'close') {
        socket.close(() => port.close());
      }
    } catch (err) {
      problem(`udp thread failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
});

socket.once('error', (err) => {
  port.postMessage([{ kind: 'failed', message: err.message } satisfies FromUdpThread]);
  try {
    socket.close();
  } catch {
    // never bound: nothing to close
  }
  port.close();
});
socket.bind(options.port, options.host, () => {
  socket.removeAllListeners('error');
  // A runtime socket error must not end the thread; the main thread logs it.
  socket.on('error', (err) => problem(`udp socket error: ${err.message}`));
  post({ kind: 'bound', port: socket.address().port });
});
