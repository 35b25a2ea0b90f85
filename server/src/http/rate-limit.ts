import type { FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import { RateLimited } from '../errors.js';
import { clientIp } from './auth.js';

/** Addresses remembered at most, per table; beyond, the oldest windows go first. */
const MAX_ADDRESSES = 10_000;
const MINUTE = 60_000;

interface Window {
  start: number;
  count: number;
}

/**
 * Who a limit counts: an IPv4 address, or an IPv6 address's /64. One subscriber usually gets a
 * whole /64 (2^64 addresses), so counting single IPv6 addresses would give each of them as many
 * tries as they like.
 */
export function limitKey(address: string): string {
  try {
    const ip = ipaddr.parse(address);
    if (ip.kind() === 'ipv4') return ip.toString();
    const v6 = ip as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
    return `${v6.parts
      .slice(0, 4)
      .map((p) => p.toString(16))
      .join(':')}::/64`;
  } catch {
    return address;
  }
}

/**
 * Windows by key in the order they were made, at most {@link MAX_ADDRESSES}: a new one pushes out
 * the oldest, whose minute is the nearest to its end anyway.
 */
class Windows {
  private readonly map = new Map<string, Window>();

  get(key: string): Window | undefined {
    return this.map.get(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Adds a window as the newest (a key is re-added at the end). */
  add(key: string, window: Window): void {
    this.map.delete(key);
    while (this.map.size >= MAX_ADDRESSES) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
    this.map.set(key, window);
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * Counts requests per key in fixed one-minute windows; `hit` answers how many seconds a refused
 * key has to wait, or undefined while it is within the limit.
 *
 * Keys over the limit live in a table of their own: a flood of fresh addresses (cheap with
 * IPv6, or from a botnet) pushes out only other fresh addresses, never the ones being refused.
 * To free one of those, an attacker would have to get 10,000 other keys refused first.
 */
export class AddressLimiter {
  private readonly counting = new Windows();
  private readonly refused = new Windows();

  constructor(private readonly perMinute: number) {}

  hit(key: string, now = Date.now()): number | undefined {
    const blocked = this.refused.get(key);
    if (blocked) {
      if (now - blocked.start < MINUTE) return Math.ceil((blocked.start + MINUTE - now) / 1000);
      this.refused.delete(key);
    }
    const window = this.counting.get(key);
    if (!window || now - window.start >= MINUTE) {
      this.counting.add(key, { start: now, count: 1 });
      return undefined;
    }
    window.count += 1;
    if (window.count <= this.perMinute) return undefined;
    this.counting.delete(key);
    this.refused.add(key, window);
    return Math.ceil((window.start + MINUTE - now) / 1000);
  }

  /** How many keys are remembered (both tables). */
  get size(): number {
    return this.counting.size + this.refused.size;
  }
}

/**
 * A preHandler that lets one client (an IPv4 address, an IPv6 /64) make `perMinute` requests per
 * minute (fixed window) and answers 429 beyond: for public routes anyone can call (payment pages,
 * revocation form).
 *
 * @example
 * app.get('/api/pay/:token', { preHandler: perAddressLimit(60) }, handler);
 */
export function perAddressLimit(perMinute: number): (request: FastifyRequest) => Promise<void> {
  const limiter = new AddressLimiter(perMinute);
  return async (request) => {
    const wait = limiter.hit(limitKey(clientIp(request)));
    if (wait !== undefined) throw new RateLimited('too_many_requests', wait);
  };
}
