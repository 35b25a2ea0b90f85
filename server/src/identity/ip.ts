import ipaddr from 'ipaddr.js';

/** How strictly a session is bound to its login address. */
export type IpPolicy = 'exact' | 'subnet' | 'off';

function parse(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    const ip = ipaddr.parse(address);
    // ::ffff:1.2.3.4 is 1.2.3.4: a dual-stack socket must not break the binding.
    return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  } catch {
    return undefined;
  }
}

/** The canonical text of an address (IPv4-mapped IPv6 as IPv4), or the input when unparseable. */
export function normalizeIp(address: string): string {
  return parse(address)?.toString() ?? address;
}

/**
 * True when `current` may use a session that logged in from `login` under the policy: exact
 * match, or the same /24 (IPv4) or /64 (IPv6) network.
 */
export function ipMatches(login: string, current: string, policy: IpPolicy): boolean {
  if (policy === 'off') return true;
  const a = parse(login);
  const b = parse(current);
  if (!a || !b || a.kind() !== b.kind()) return false;
  if (policy === 'exact') return a.toNormalizedString() === b.toNormalizedString();
  return a.match(b, a.kind() === 'ipv4' ? 24 : 64);
}

/** True when a text is an IPv4 or IPv6 range in CIDR notation (a bare address counts as /32 or /128). */
export function isCidr(range: string): boolean {
  try {
    if (range.includes('/')) ipaddr.parseCIDR(range);
    else ipaddr.parse(range);
    return true;
  } catch {
    return false;
  }
}

/** The canonical form of a range, e.g. `2001:db8::/32`; a bare address gets its full prefix. */
export function normalizeCidr(range: string): string {
  const [ip, prefix] = range.includes('/') ? ipaddr.parseCIDR(range) : [ipaddr.parse(range), undefined];
  const plain =
    ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
  return `${plain.toString()}/${prefix ?? (plain.kind() === 'ipv4' ? 32 : 128)}`;
}

/** True when the address lies in one of the ranges, or when there are no ranges (no restriction). */
export function inAllowedRanges(address: string, ranges: readonly string[]): boolean {
  if (ranges.length === 0) return true;
  const ip = parse(address);
  if (!ip) return false;
  return ranges.some((range) => {
    try {
      const [base, prefix] = ipaddr.parseCIDR(normalizeCidr(range));
      return base.kind() === ip.kind() && ip.match(base, prefix);
    } catch {
      return false;
    }
  });
}
