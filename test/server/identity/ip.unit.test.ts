import { describe, expect, it } from 'vitest';
import { ipMatches, normalizeIp } from '../../../server/src/identity/ip.js';

describe('session IP binding', () => {
  it('exact: the same address only, IPv4-mapped IPv6 counting as IPv4', () => {
    expect(ipMatches('203.0.113.5', '203.0.113.5', 'exact')).toBe(true);
    expect(ipMatches('203.0.113.5', '::ffff:203.0.113.5', 'exact')).toBe(true);
    expect(ipMatches('203.0.113.5', '203.0.113.6', 'exact')).toBe(false);
    expect(ipMatches('2001:db8::1', '2001:db8:0:0:0:0:0:1', 'exact')).toBe(true);
  });

  it('subnet: the same /24 or /64', () => {
    expect(ipMatches('203.0.113.5', '203.0.113.200', 'subnet')).toBe(true);
    expect(ipMatches('203.0.113.5', '203.0.114.5', 'subnet')).toBe(false);
    expect(ipMatches('2001:db8:1:2::1', '2001:db8:1:2:ffff::9', 'subnet')).toBe(true);
    expect(ipMatches('2001:db8:1:2::1', '2001:db8:1:3::1', 'subnet')).toBe(false);
    expect(ipMatches('203.0.113.5', '2001:db8::1', 'subnet')).toBe(false);
  });

  it('off: any address; garbage never matches otherwise', () => {
    expect(ipMatches('203.0.113.5', '198.51.100.1', 'off')).toBe(true);
    expect(ipMatches('203.0.113.5', 'not-an-ip', 'exact')).toBe(false);
    expect(normalizeIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
  });
});
