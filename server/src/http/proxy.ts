import type { IncomingHttpHeaders } from 'node:http';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** True for a socket address on this machine. */
export function isLoopback(address: string | undefined): boolean {
  return LOOPBACK.has(address ?? '');
}

/**
 * True when a request says it was forwarded by a proxy (`X-Forwarded-For`, `Forwarded` or
 * `X-Real-IP`): then the socket's address is the proxy's, not the client's, whether or not KIS
 * trusts the proxy to name the client.
 */
export function forwarded(headers: IncomingHttpHeaders): boolean {
  return (
    headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined || headers['x-real-ip'] !== undefined
  );
}
