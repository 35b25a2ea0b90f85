import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { RateLimited } from '../../server/src/errors.js';
import { perAddressLimit } from '../../server/src/http/rate-limit.js';

/**
 * Issue 20, finding 4: the per-address limit of the public routes. Played with requests as
 * Fastify hands them to the limiter (only the client address matters to it).
 */
function from(ip: string): FastifyRequest {
  return { ip } as FastifyRequest;
}

/** Whether the limiter lets a request from `ip` through. */
async function passes(limit: (request: FastifyRequest) => Promise<void>, ip: string): Promise<boolean> {
  try {
    await limit(from(ip));
    return true;
  } catch (err) {
    if (err instanceof RateLimited) return false;
    throw err;
  }
}

describe('the per-address limit', () => {
  it('keeps a refused address refused while a flood of 20,000 other addresses comes in', async () => {
    const limit = perAddressLimit(5);
    for (let i = 0; i < 5; i++) expect(await passes(limit, '198.51.100.7')).toBe(true);
    expect(await passes(limit, '198.51.100.7')).toBe(false);
    // The flood: one request from each of 20,000 fresh addresses (two tables' worth).
    for (let i = 0; i < 20_000; i++) await limit(from(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
    expect(await passes(limit, '198.51.100.7')).toBe(false);
    // Recent addresses of the flood are still counted, too.
    for (let i = 0; i < 4; i++) expect(await passes(limit, '10.0.78.31')).toBe(true);
    expect(await passes(limit, '10.0.78.31')).toBe(false);
  });

  it('counts the addresses of one IPv6 /64 together, and another /64 apart', async () => {
    const limit = perAddressLimit(3);
    expect(await passes(limit, '2001:db8:1:2::1')).toBe(true);
    expect(await passes(limit, '2001:db8:1:2::2')).toBe(true);
    expect(await passes(limit, '2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(true);
    expect(await passes(limit, '2001:db8:1:2:abcd::99')).toBe(false);
    expect(await passes(limit, '2001:db8:1:3::1')).toBe(true);
    // IPv4 stays per address, also when it arrives IPv4-mapped.
    expect(await passes(limit, '192.0.2.1')).toBe(true);
    expect(await passes(limit, '::ffff:192.0.2.1')).toBe(true);
    expect(await passes(limit, '192.0.2.1')).toBe(true);
    expect(await passes(limit, '192.0.2.1')).toBe(false);
    expect(await passes(limit, '192.0.2.2')).toBe(true);
  });
});
