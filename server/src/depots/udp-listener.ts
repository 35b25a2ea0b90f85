import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Largest telegram the depot protocol allows; anything longer is dropped unread. */
export const MAX_TELEGRAM_BYTES = 1200;

/** The bound depot socket. */
export interface UdpListener {
  /** The port actually bound (differs from the configured one when that is 0). */
  port: number;
  /** True while the socket is bound. */
  isBound(): boolean;
  close(): Promise<void>;
}

/**
 * Binds the UDP socket the depots send their telegrams to.
 *
 * TODO(issue 5): decode, authenticate and route telegrams to depot actors. Until then every
 * datagram is dropped without an answer (the protocol's rule for anything not understood) and counted.
 */
export async function bindUdpListener(options: {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
}): Promise<UdpListener> {
  const socket = dgram.createSocket({ type: isIPv6(options.host) ? 'udp6' : 'udp4', reuseAddr: false });
  let bound = false;
  socket.on('message', (msg) => {
    options.metrics.udpDatagrams.inc({ outcome: msg.length > MAX_TELEGRAM_BYTES ? 'too_long' : 'no_handler' });
  });
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
  return {
    port: socket.address().port,
    isBound: () => bound,
    close: () =>
      new Promise<void>((resolve) => {
        if (!bound) return resolve();
        socket.close(() => resolve());
      }),
  };
}
