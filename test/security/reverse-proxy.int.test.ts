import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startServer, type TestServer } from '../helpers/server.js';

/**
 * Issue 20, finding 4: KIS behind a reverse proxy on the same machine. Every request then comes
 * from loopback; what tells an outside client apart is the X-Forwarded-For the proxy adds.
 */
const TOKEN = 'metrics-token-0123456789';
/** A payment-link token nobody was given: the public route answers 404 until the limit. */
const NO_SUCH_LINK = 'A'.repeat(43);
let untrusting: TestServer;
let trusting: TestServer;
let guarded: TestServer;

beforeAll(async () => {
  [untrusting, trusting, guarded] = await Promise.all([
    startServer({ env: { KIS_TRUST_PROXY: 'off' } }),
    // The test default: the proxy on loopback is trusted.
    startServer(),
    startServer({ env: { KIS_METRICS_TOKEN: TOKEN } }),
  ]);
});
afterAll(async () => {
  await Promise.all([untrusting?.stop(), trusting?.stop(), guarded?.stop()]);
});

function metrics(server: TestServer, headers: Record<string, string> = {}): Promise<number> {
  return fetch(`${server.url}/metrics`, { headers }).then((res) => res.status);
}

const WARNING = /X-Forwarded-For.*KIS_TRUST_PROXY/;

describe('behind a local reverse proxy', () => {
  it('warns once when a local proxy forwards requests that KIS_TRUST_PROXY does not trust', async () => {
    await fetch(`${untrusting.url}/api/info`);
    expect(untrusting.logs.some((l) => WARNING.test(String(l.msg)))).toBe(false);
    for (const ip of ['203.0.113.5', '203.0.113.6', '203.0.113.7']) {
      await fetch(`${untrusting.url}/api/info`, { headers: { 'x-forwarded-for': ip } });
    }
    await eventually(() => untrusting.logs.some((l) => WARNING.test(String(l.msg))), 5000, 'the warning');
    const warnings = untrusting.logs.filter((l) => WARNING.test(String(l.msg)));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(40);
    // A trusted proxy is what the operator meant: no warning there.
    await fetch(`${trusting.url}/api/info`, { headers: { 'x-forwarded-for': '203.0.113.5' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(trusting.logs.some((l) => WARNING.test(String(l.msg)))).toBe(false);
  });

  it('keeps /metrics from an outside client the proxy forwarded, trusted or not, unless it has the token', async () => {
    // A scraper on the machine itself, straight to KIS.
    expect(await metrics(untrusting)).toBe(200);
    expect(await metrics(trusting)).toBe(200);
    // The same port through the proxy: an outside client.
    expect(await metrics(untrusting, { 'x-forwarded-for': '203.0.113.5' })).toBe(403);
    expect(await metrics(trusting, { 'x-forwarded-for': '203.0.113.5' })).toBe(403);
    expect(await metrics(trusting, { forwarded: 'for=203.0.113.5' })).toBe(403);
    // With a token configured, it is the token that counts.
    expect(await metrics(guarded, { 'x-forwarded-for': '203.0.113.5' })).toBe(403);
    expect(await metrics(guarded, { 'x-forwarded-for': '203.0.113.5', authorization: `Bearer ${TOKEN}` })).toBe(200);
  });

  it('limits one IPv6 /64 as one client on the public payment pages', async () => {
    const get = (ip: string): Promise<number> =>
      fetch(`${trusting.url}/api/pay/${NO_SUCH_LINK}`, { headers: { 'x-forwarded-for': ip } }).then((r) => r.status);
    // 60 a minute from one address of the /64 …
    for (let i = 0; i < 60; i++) expect(await get('2001:db8:7:1::1')).toBe(404);
    // … and the next address of the same /64 gets no fresh allowance.
    expect(await get('2001:db8:7:1::2')).toBe(429);
    expect(await get('2001:db8:7:1:8000::1')).toBe(429);
    // Another /64 is another client.
    expect(await get('2001:db8:7:2::1')).toBe(404);
  });
});
