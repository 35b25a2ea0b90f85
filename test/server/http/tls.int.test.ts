import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';

const run = promisify(execFile);
let dir: string;
let ca: Buffer;
let server: TestServer;

/** A request over TLS that trusts only the test's own certificate. */
function request(
  port: number,
  method: string,
  pathname: string,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: pathname,
        ca,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kis-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  ca = await readFile(cert);
  server = await startServer({ env: { KIS_TLS_CERT: cert, KIS_TLS_KEY: key, KIS_TRUST_PROXY: 'false' } });
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('HTTPS served by KIS itself', () => {
  it('answers over TLS with its certificate and sets a Secure __Host- cookie', async () => {
    expect((await request(server.httpPort, 'GET', '/healthz')).status).toBe(200);

    let token: string | undefined;
    for (let i = 0; i < 100 && !token; i++) {
      token = /#token=([A-Za-z0-9_-]+)/.exec(server.stderr())?.[1];
      if (!token) await new Promise((r) => setTimeout(r, 50));
    }
    expect(server.stderr()).toContain('https://127.0.0.1:');
    const setup = await request(server.httpPort, 'POST', '/api/auth/admin-setup', {
      token,
      email: 'tls@kis.test',
      name: 'T',
      password: GOOD_PASSWORD,
    });
    expect(setup.status).toBe(200);
    const login = await request(server.httpPort, 'POST', '/api/auth/login', {
      email: 'tls@kis.test',
      password: GOOD_PASSWORD,
    });
    expect(login.status).toBe(200);
    const cookie = String(login.headers['set-cookie'] ?? '').toLowerCase();
    expect(cookie).toMatch(/^__host-kis_session=/);
    expect(cookie).toContain('secure');
  });

  it('does not speak plain HTTP on the same port', async () => {
    await expect(fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).rejects.toThrow();
  });
});
