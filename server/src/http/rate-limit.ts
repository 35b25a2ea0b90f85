import type { FastifyRequest } from 'fastify';
import { RateLimited } from '../errors.js';
import { clientIp } from './auth.js';

/** Addresses remembered at most; a flood of new ones resets the table rather than growing it. */
const MAX_ADDRESSES = 10_000;

/**
 * A preHandler that lets one client address make `perMinute` requests per minute (fixed window)
 * and answers 429 beyond: for public routes anyone can call (payment pages, revocation form).
 *
 * @example
 * app.get('/api/pay/:token', { preHandler: perAddressLimit(60) }, handler);
 */
export function perAddressLimit(perMinute: number): (request: FastifyRequest) => Promise<void> {
  const windows = new Map<string, { start: number; count: number }>();
  return async (request) => {
    const ip = clientIp(request);
    const now = Date.now();
    const window = windows.get(ip);
    if (!window || now - window.start >= 60_000) {
      if (windows.size > MAX_ADDRESSES) windows.clear();
      windows.set(ip, { start: now, count: 1 });
      return;
    }
    window.count += 1;
    if (window.count > perMinute)
      throw new RateLimited('too_many_requests', Math.ceil((window.start + 60_000 - now) / 1000));
  };
}
