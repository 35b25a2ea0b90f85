import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import {
  Direction,
  MAX_TELEGRAM_BYTES,
  accept,
  formatDepotId,
  isDepotToServer,
  openTelegram,
  parseHeader,
  wouldAccept,
  type TelegramHeader,
} from '@kis/protocol/telegram';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { DepotLink, DepotRuntime, UdpAddress } from './runtime.js';

export { MAX_TELEGRAM_BYTES };

/** Why a datagram was dropped: the `outcome` label of `kis_udp_datagrams_total`. */
export type DropOutcome =
  | 'too_long'
  | 'too_short'
  | 'bad_magic'
  | 'bad_version'
  | 'bad_flags'
  | 'unknown_type'
  | 'wrong_direction'
  | 'unknown_depot'
  | 'unknown_key'
  | 'replay'
  | 'bad_tag'
  | 'bad_cbor'
  | 'bad_payload';

/** The socket's receive buffer: about 7,000 full-size telegrams. */
const RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;

/** At most one log line per drop reason in this time; the line says how many were not logged. */
const DROP_LOG_INTERVAL_MS = 10_000;

/** The bound depot socket. */
export interface UdpListener {
  /** The port actually bound (differs from the configured one when that is 0). */
  port: number;
  /** True while the socket is bound. */
  isBound(): boolean;
  close(): Promise<void>;
}

/** Logs drops by reason, at a bounded rate, never with the datagram's content. */
class DropLog {
  private readonly last = new Map<DropOutcome, { at: number; suppressed: number }>();
  constructor(private readonly logger: Logger) {}

  note(reason: DropOutcome, from: UdpAddress, depotId?: string): void {
    const now = Date.now();
    const entry = this.last.get(reason);
    if (entry && now - entry.at < DROP_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    this.logger.warn(
      { reason, from: from.address, ...(depotId ? { depotId } : {}), suppressed: entry?.suppressed ?? 0 },
      'udp datagram dropped',
    );
    this.last.set(reason, { at: now, suppressed: 0 });
  }
}

/**
 * The path of one datagram: header → depot → key → window → tag and payload → window update →
 * the depot's actor. Every failure is a silent drop, counted by reason; nothing here throws.
 */
export function createTelegramHandler(options: {
  runtime: DepotRuntime;
  logger: Logger;
  metrics: Metrics;
}): (datagram: Buffer, from: UdpAddress) => void {
  const { runtime, metrics } = options;
  const drops = new DropLog(options.logger);
  const drop = (reason: DropOutcome, from: UdpAddress, depotId?: string): void => {
    metrics.udpDatagrams.inc({ outcome: reason });
    drops.note(reason, from, depotId);
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
    // Only an authentic telegram moves the window.
    const next = accept(link.replay, header.epoch, header.seq);
    if (!next) return drop('replay', from, link.depotId);
    link.replay = next;
    metrics.udpDatagrams.inc({ outcome: 'accepted' });
    runtime.deliver(link, opened.telegram, header, from, receivedAt);
  };

  return (datagram, from) => {
    try {
      const receivedAt = Date.now();
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
  };
}

/**
 * Binds the UDP socket the depots send their telegrams to, and gives the runtime the means to
 * answer. Datagrams over 1200 bytes are dropped unread.
 */
export async function bindUdpListener(options: {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  runtime: DepotRuntime;
}): Promise<UdpListener> {
  const socket = dgram.createSocket({
    type: isIPv6(options.host) ? 'udp6' : 'udp4',
    reuseAddr: false,
    // Bursts (10,000 depots reporting the same second after a network outage) must queue, not drop;
    // the kernel caps this at net.core.rmem_max.
    recvBufferSize: RECEIVE_BUFFER_BYTES,
  });
  let bound = false;
  const handle = createTelegramHandler(options);
  socket.on('message', (msg, rinfo) => handle(msg, { address: rinfo.address, port: rinfo.port }));
  socket.on('error', (err) => {
    // A runtime socket error must not take the server down; readiness reports the socket as gone.
    options.logger.error({ err }, 'udp socket error');
  });
  socket.on('close', () => {
    bound = false;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  bound = true;
  options.runtime.setTransmit((datagram, to) => {
    if (!bound) return;
    socket.send(datagram, to.port, to.address, (err) => {
      if (err) options.logger.warn({ err: err.message, to: to.address }, 'udp send failed');
    });
  });
  return {
    port: socket.address().port,
    isBound: () => bound,
    close: () =>
      new Promise<void>((resolve) => {
        options.runtime.setTransmit(undefined);
        if (!bound) return resolve();
        socket.close(() => resolve());
      }),
  };
}
