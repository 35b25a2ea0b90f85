import { Worker } from 'node:worker_threads';
import {
  Direction,
  MAX_TELEGRAM_BYTES,
  accept,
  formatDepotId,
  isDepotToServer,
  openTelegram,
  parseHeader,
  wouldAccept,
  type Telegram,
  type TelegramHeader,
} from '@kis/protocol/telegram';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { DepotLink, DepotRuntime, DepotTransport, UdpAddress } from './runtime.js';
import { DropLog, type DropOutcome } from './udp-drops.js';
import type { FromUdpThread, ToUdpThread } from './udp-thread-messages.js';

export { MAX_TELEGRAM_BYTES, type DropOutcome };

/** The socket's receive buffer: about 7,000 full-size telegrams. */
const RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

/** The bound depot socket. */
export interface UdpListener {
  /** The port actually bound (differs from the configured one when that is 0). */
  port: number;
  /** True while the socket is bound. */
  isBound(): boolean;
  close(): Promise<void>;
}

/** What the main thread does with the datagrams the UDP thread passes on. */
export interface TelegramHandler {
  /** A datagram the thread could not open (no key for it): the whole path, the depot looked up. */
  datagram(datagram: Buffer, from: UdpAddress, receivedAt?: number): void;
  /** A telegram the thread opened: the depot and key still current, the window, the actor. */
  opened(message: Extract<FromUdpThread, { kind: 'opened' }>): void;
  /** Drops the thread counted. */
  dropped(message: Extract<FromUdpThread, { kind: 'dropped' }>): void;
}

/**
 * The path of one datagram: header → depot → key → window → tag and payload → window update →
 * the depot's actor. Every failure is a silent drop, counted by reason; nothing here throws.
 */
export function createTelegramHandler(options: {
  runtime: DepotRuntime;
  logger: Logger;
  metrics: Metrics;
}): TelegramHandler {
  const { runtime, metrics } = options;
  const drops = new DropLog(options.logger);
  const drop = (reason: DropOutcome, from: UdpAddress, depotId?: string): void => {
    metrics.udpDatagrams.inc({ outcome: reason });
    drops.note(reason, from, depotId);
  };

  /** Only an authentic telegram moves the window. */
  const admit = (
    link: DepotLink,
    header: { keyId: number; epoch: number; seq: number },
    telegram: Telegram,
    from: UdpAddress,
    receivedAt: number,
  ): void => {
    const next = accept(link.replay, header.epoch, header.seq);
    if (!next) return drop('replay', from, link.depotId);
    link.replay = next;
    metrics.udpDatagrams.inc({ outcome: 'accepted' });
    runtime.deliver(link, telegram, header, from, receivedAt);
  };

  const authenticate = (
    link: DepotLink,
    header: TelegramHeader,
    datagram: Buffer,
    from: UdpAddress,
    receivedAt: number,
  ): void => {
    const key = link.keys.get(header.keyId);
    if (!key) return drop('unknown_key', from, link.depotId);
    // Shed replays before spending a decryption on them.
    if (!wouldAccept(link.replay, header.epoch, header.seq)) return drop('replay', from, link.depotId);
    const opened = openTelegram(key, Direction.DEPOT_TO_SERVER, header, datagram);
    if (!opened.ok)
      return drop(opened.reason === 'wrong_direction' ? 'wrong_direction' : opened.reason, from, link.depotId);
    admit(link, header, opened.telegram, from, receivedAt);
  };

  return {
    datagram: (datagram, from, receivedAt = Date.now()) => {
      try {
        const parsed = parseHeader(datagram);
        if (!parsed.ok) return drop(parsed.reason, from);
        const { header } = parsed;
        if (!isDepotToServer(header.type)) return drop('wrong_direction', from);
        const depotId = formatDepotId(header.depotId);
        const found = runtime.resolve(depotId);
        if (found === undefined) return drop('unknown_depot', from);
        if (!(found instanceof Promise)) return authenticate(found, header, datagram, from, receivedAt);
        found.then(
          (link) => (link ? authenticate(link, header, datagram, from, receivedAt) : drop('unknown_depot', from)),
          () => drop('unknown_depot', from),
        );
      } catch (err) {
        // A bug, not the datagram's fault: logged, and the server carries on.
        options.logger.error({ err }, 'udp handler failed');
      }
    },
    opened: (message) => {
      try {
        const link = runtime.links.get(message.depotId);
        // Detached, or the key withdrawn, while the thread opened it.
        if (!link) return drop('unknown_depot', message.from);
        if (!link.keys.has(message.keyId)) return drop('unknown_key', message.from, link.depotId);
        admit(link, message, message.telegram, message.from, message.receivedAt);
      } catch (err) {
        options.logger.error({ err }, 'udp handler failed');
      }
    },
    dropped: (message) => {
      for (const [reason, count] of Object.entries(message.counts) as Array<[DropOutcome, number]>) {
        metrics.udpDatagrams.inc({ outcome: reason }, count);
      }
      for (const example of message.examples) {
        drops.note(example.reason, example.from, example.depotId, message.counts[example.reason] ?? 1);
      }
    },
  };
}

/**
 * Answers handed to the socket's thread in one message at most, and (udp-thread.ts) telegrams
 * handed to this one. Handed on once a whole batch was handled, each ACK waited for the slowest of
 * its batch. Closed loop of 256 depots, heartbeats/s over two runs each: whole batches 18,360 and
 * 20,008; parts of 64: 21,607 and 21,491; 32: 22,414 and 23,987; 16: 22,045 and 22,914.
 */
const MAX_POSTED = 32;

/** The depot socket's thread (dist/depots/udp-thread.js beside this file). */
const THREAD_ENTRY = new URL('./udp-thread.js', import.meta.url);

/**
 * Binds the UDP socket the depots send their telegrams to, in its own thread (udp-thread.ts), and
 * gives the runtime the means to answer. Datagrams over 1200 bytes are dropped unread. Should the
 * thread fail, a new one binds the same port and gets every key again.
 */
export async function bindUdpListener(options: {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  runtime: DepotRuntime;
}): Promise<UdpListener> {
  const handler = createTelegramHandler(options);
  const { logger } = options;
  /** The keys the thread holds, to give a new thread after a failure. */
  const keyCopies = new Map<string, Array<[number, Uint8Array]>>();
  let thread: Worker | undefined;
  let bound = false;
  let closing = false;
  let port = options.port;

  let outbox: ToUdpThread[] = [];
  let flushing = false;
  const flush = (): void => {
    flushing = false;
    if (!thread || outbox.length === 0) return;
    const batch = outbox;
    outbox = [];
    thread.postMessage(batch);
  };
  const post = (message: ToUdpThread): void => {
    outbox.push(message);
    // The answers to a batch of telegrams go out in parts while the batch is handled, not all at
    // its end: the thread seals and sends the first while this one handles the rest.
    if (outbox.length >= MAX_POSTED) return flush();
    if (flushing) return;
    flushing = true;
    setImmediate(flush);
  };

  const receive = (batch: FromUdpThread[]): void => {
    for (const message of batch) {
      switch (message.kind) {
        case 'opened':
          handler.opened(message);
          break;
        case 'unknown':
          handler.datagram(
            Buffer.from(message.datagram.buffer, message.datagram.byteOffset, message.datagram.byteLength),
            message.from,
            message.receivedAt,
          );
          break;
        case 'dropped':
          handler.dropped(message);
          break;
        case 'problem':
          logger.warn({ count: message.count }, message.message);
          break;
        default:
          break;
      }
    }
  };

  const start = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(THREAD_ENTRY, {
        workerData: { host: options.host, port, recvBufferSize: RECEIVE_BUFFER_BYTES },
      });
      let started = false;
      worker.on('message', (batch: FromUdpThread[]) => {
        for (const message of batch) {
          if (message.kind === 'bound') {
            port = message.port;
            bound = true;
            started = true;
            thread = worker;
            // Every key first, then whatever waited: a send never finds its key missing.
            const keys: ToUdpThread[] = [...keyCopies].map(([depotId, list]) => ({
              kind: 'keys',
              depotId,
              keys: list,
            }));
            worker.postMessage(keys);
            flush();
            resolve();
          } else if (message.kind === 'failed') {
            reject(new Error(`the depot socket could not be bound: ${message.message}`));
          }
        }
        receive(batch);
      });
      worker.on('error', (err) => logger.error({ err }, 'udp thread failed'));
      worker.on('exit', (code) => {
        if (thread === worker) {
          thread = undefined;
          bound = false;
        }
        if (!started) return reject(new Error(`the udp thread ended with ${code} before binding`));
        if (closing) return;
        logger.error({ code }, 'udp thread ended; starting it again');
        start().catch((err: unknown) => logger.error({ err }, 'udp thread could not start again'));
      });
    });

  options.runtime.setTransport({
    keys: (depotId, keys) => {
      const list: Array<[number, Uint8Array]> = [...keys];
      if (list.length) keyCopies.set(depotId, list);
      else keyCopies.delete(depotId);
      post({ kind: 'keys', depotId, keys: list });
    },
    send: (to, telegram, payload) => {
      if (!bound) return;
      post({ kind: 'send', to, ...telegram, payload });
    },
  } satisfies DepotTransport);
  // setTransport gave every key the runtime holds; keyCopies hands them to the thread once it is bound.
  outbox = [];
  flushing = false;
  try {
    await start();
  } catch (err) {
    options.runtime.setTransport(undefined);
    throw err;
  }

  return {
    port,
    isBound: () => bound,
    close: async () => {
      closing = true;
      options.runtime.setTransport(undefined);
      const worker = thread;
      if (!worker) return;
      const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      outbox = [];
      worker.postMessage([{ kind: 'close' }] satisfies ToUdpThread[]);
      await ended;
      bound = false;
    },
  };
}
