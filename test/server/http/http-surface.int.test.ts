import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
});

describe('the portal over HTTP', () => {
  it('serves the SPA with security headers that allow exactly its boot script', async () => {
    const res = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<html lang="de">');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('strict-transport-security')).toBeNull();
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    const inline = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(inline).toContain('import(');
    const hash = createHash('sha256').update(inline).digest('base64');
    expect(csp).toContain(`'sha256-${hash}'`);
  });

  it('answers client-side routes with the SPA and unknown API paths with a JSON 404', async () => {
    const page = await fetch(`${server.url}/konto/einstellungen`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');

    const api = await fetch(`${server.url}/api/does-not-exist`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: { code: 'not_found', message: 'GET /api/does-not-exist not found' } });
  });

  it('caches hashed assets for a year and the page never', async () => {
    const page = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const asset = /href="(\/_app\/immutable\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const res = await fetch(`${server.url}${asset}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('immutable');
  });

  it('describes the API as OpenAPI 3.1 with browsable docs', async () => {
    const spec = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(spec.openapi).toBe('3.1.0');
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/api/info']));
    const docs = await fetch(`${server.url}/api/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('swagger');
  });

  it('exposes Prometheus metrics to loopback clients', async () => {
    await fetch(`${server.url}/healthz`);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/kis_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+/);
    expect(text).toContain('kis_process_cpu_seconds_total');
  });

  it('keeps query strings, which may hold e-mail addresses, out of the log', async () => {
    await fetch(`${server.url}/api/admin/users?q=geheim%40kunde.example`);
    await new Promise((r) => setTimeout(r, 200));
    const logged = JSON.stringify(server.logs);
    expect(logged).toContain('/api/admin/users');
    expect(logged).not.toContain('geheim');
  });

  it('reports what it is at /api/info', async () => {
    const res = await fetch(`${server.url}/api/info`);
    expect(await res.json()).toMatchObject({ name: 'KIS', mailConfigured: false });
  });
});

describe('the portal behind a proxy', () => {
  it('refuses /metrics without the token when one is configured', async () => {
    const token = 'metrics-token-0123456789';
    const guarded = await startServer({ env: { KIS_METRICS_TOKEN: token } });
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(403);
      expect((await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(
        200,
      );
    } finally {
      await guarded.stop();
    }
  });

  it('redirects plain HTTP to HTTPS and sends HSTS in HTTPS-only mode', async () => {
    const secure = await startServer({
      env: { KIS_HTTPS_ONLY: 'true', KIS_PUBLIC_URL: 'https://portal.example.com', KIS_TRUST_PROXY: 'loopback' },
    });
    try {
      const plain = await fetch(`${secure.url}/konto?x=1`, { redirect: 'manual' });
      expect(plain.status).toBe(308);
      expect(plain.headers.get('location')).toBe('https://portal.example.com/konto?x=1');
      // Probes stay reachable over plain HTTP from inside the host.
      expect((await fetch(`${secure.url}/healthz`)).status).toBe(200);
      const viaProxy = await fetch(`${secure.url}/api/info`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(viaProxy.status).toBe(200);
      expect(viaProxy.headers.get('strict-transport-security')).toContain('max-age=31536000');
    } finally {
      await secure.stop();
    }
  });
});
