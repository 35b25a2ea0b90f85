import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  SessionEndedPayload,
  SessionExpiringPayload,
} from '@kis/protocol/realtime';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { startServer, testDatabaseUri, type TestServer } from '../../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
  await createFirstAdmin(server, 'admin@kis.test');
});
afterAll(async () => {
  await server.stop();
});

function cookieAttributes(setCookie: string | null): string[] {
  return (setCookie ?? '').split(';').map((p) => p.trim().toLowerCase());
}

describe('login sessions', () => {
  it('sets an HttpOnly, SameSite=Strict, host-wide cookie with a 256-bit id', async () => {
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' },
      body: JSON.stringify({ email: 'admin@kis.test', password: GOOD_PASSWORD }),
    });
    expect(res.status).toBe(200);
    const attrs = cookieAttributes(res.headers.get('set-cookie'));
    const [name, value] = (attrs[0] ?? '').split('=');
    expect(name).toBe('kis_session');
    expect(Buffer.from(value ?? '', 'base64url')).toHaveLength(32);
    expect(attrs).toEqual(expect.arrayContaining(['httponly', 'samesite=strict', 'path=/']));
    // Plain HTTP on embedded defaults: no Secure flag, or the browser would drop the cookie.
    expect(attrs).not.toContain('secure');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a state-changing request without the CSRF token', async () => {
    const client = new ApiClient(server);
    await client.login('admin@kis.test', GOOD_PASSWORD);
    const token = client.csrfToken;
    client.csrfToken = undefined;
    expect((await client.request('PATCH', '/api/account', { name: 'X' })).status).toBe(401);
    client.csrfToken = 'forged-token-forged-token-forged-token';
    expect((await client.request('PATCH', '/api/account', { name: 'X' })).body).toMatchObject({
      error: { code: 'csrf_invalid' },
    });
    client.csrfToken = token;
    expect((await client.request('PATCH', '/api/account', { name: 'Ada Admin' })).status).toBe(200);
  });

  it('refuses the right cookie from another address and burns the session', async () => {
    const client = new ApiClient(server, '203.0.113.20');
    await client.login('admin@kis.test', GOOD_PASSWORD);
    expect((await client.get('/api/account')).status).toBe(200);

    client.ip = '198.51.100.66';
    const stolen = await client.get('/api/account');
    expect(stolen.status).toBe(401);
    expect(stolen.body).toMatchObject({ error: { code: 'session_ip_mismatch' } });

    client.ip = '203.0.113.20';
    expect((await client.get('/api/account')).status).toBe(401);
  });

  it('makes the old cookie worthless after logout', async () => {
    const client = new ApiClient(server);
    await client.login('admin@kis.test', GOOD_PASSWORD);
    const oldCookie = client.cookie;
    expect((await client.post('/api/auth/logout')).status).toBe(200);
    client.cookie = oldCookie;
    expect((await client.get('/api/account')).status).toBe(401);
    expect((await client.get('/api/auth/session')).status).toBe(401);
  });

  it('stays signed out when the page asks for its session while the logout is under way', async () => {
    // A page's requests run beside its logout (the socket hears of the end and the page reloads who
    // is signed in). None of them may bring the ended session back, however they interleave.
    for (let round = 0; round < 5; round++) {
      const client = new ApiClient(server);
      await client.login('admin@kis.test', GOOD_PASSWORD);
      const cookie = client.cookie;
      const beside = new ApiClient(server);
      let loggedOut = false;
      const logout = client.post('/api/auth/logout').finally(() => (loggedOut = true));
      const asks: Promise<unknown>[] = [];
      while (!loggedOut) {
        beside.cookie = cookie;
        asks.push(beside.get('/api/auth/session'));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect((await logout).status).toBe(200);
      await Promise.all(asks);
      beside.cookie = cookie;
      expect((await beside.get('/api/auth/session')).status).toBe(401);
    }
  });

  it('rotates the session id at login', async () => {
    const client = new ApiClient(server);
    await client.login('admin@kis.test', GOOD_PASSWORD);
    const first = client.cookie;
    await client.login('admin@kis.test', GOOD_PASSWORD);
    expect(client.cookie).not.toBe(first);
    const old = new ApiClient(server);
    old.cookie = first;
    expect((await old.get('/api/account')).status).toBe(401);
  });

  it('lists own sessions and signs out the others; a password change ends them too', async () => {
    const laptop = new ApiClient(server, '203.0.113.31');
    const phone = new ApiClient(server, '203.0.113.32');
    await laptop.login('admin@kis.test', GOOD_PASSWORD);
    await phone.login('admin@kis.test', GOOD_PASSWORD);
    const list = await laptop.get<{ items: Array<{ ip: string; current: boolean }> }>('/api/account/sessions');
    expect(list.body.items.filter((s) => s.current)).toHaveLength(1);
    expect(list.body.items.map((s) => s.ip)).toEqual(expect.arrayContaining(['203.0.113.31', '203.0.113.32']));

    expect((await laptop.post('/api/account/sessions/end-others')).status).toBe(200);
    expect((await phone.get('/api/account')).status).toBe(401);
    expect((await laptop.get('/api/account')).status).toBe(200);

    await phone.login('admin@kis.test', GOOD_PASSWORD);
    const next = 'Ein anderes langes Passwort 9';
    expect((await laptop.post('/api/account/password', { current: GOOD_PASSWORD, next })).status).toBe(200);
    expect((await phone.get('/api/account')).status).toBe(401);
    expect((await laptop.get('/api/account')).status).toBe(200);
    expect((await laptop.post('/api/account/password', { current: next, next: GOOD_PASSWORD })).status).toBe(200);
  });
});

describe('login sessions under HTTPS', () => {
  it('uses a __Host- cookie with the Secure flag', async () => {
    const secure = await startServer({ env: { KIS_HTTPS_ONLY: 'true', KIS_PUBLIC_URL: 'https://portal.example.com' } });
    try {
      await createFirstAdminBehindProxy(secure);
      const res = await fetch(`${secure.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.8' },
        body: JSON.stringify({ email: 'secure@kis.test', password: GOOD_PASSWORD }),
      });
      expect(res.status).toBe(200);
      const attrs = cookieAttributes(res.headers.get('set-cookie'));
      expect(attrs[0]?.startsWith('__host-kis_session=')).toBe(true);
      expect(attrs).toEqual(expect.arrayContaining(['secure', 'httponly', 'samesite=strict', 'path=/']));
      expect(attrs.some((a) => a.startsWith('domain='))).toBe(false);
      expect(res.headers.get('strict-transport-security')).toContain('max-age=');
    } finally {
      await secure.stop();
    }
  });
});

/** The admin set-up over the proxy's HTTPS (HTTPS-only mode redirects plain HTTP). */
async function createFirstAdminBehindProxy(target: TestServer): Promise<void> {
  let token: string | undefined;
  for (let i = 0; i < 100 && !token; i++) {
    token = /#token=([A-Za-z0-9_-]+)/.exec(target.stderr())?.[1];
    if (!token) await new Promise((r) => setTimeout(r, 50));
  }
  const res = await fetch(`${target.url}/api/auth/admin-setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
    body: JSON.stringify({ token, email: 'secure@kis.test', name: 'Sec', password: GOOD_PASSWORD }),
  });
  expect(res.status).toBe(200);
}

describe('idle expiry', () => {
  it('warns the browser, then ends the session and disconnects its sockets', async () => {
    const short = await startServer({ env: { KIS_SESSION_IDLE_SECONDS: '4', KIS_SESSION_WARNING_SECONDS: '2' } });
    const client = new ApiClient(short, '127.0.0.1');
    try {
      await createFirstAdmin(short, 'idle@kis.test');
      await client.login('idle@kis.test', GOOD_PASSWORD);
      const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(short.url, {
        transports: ['websocket'],
        reconnection: false,
        extraHeaders: { cookie: client.cookie ?? '' },
        auth: { csrfToken: client.csrfToken },
      });
      const welcome = await new Promise<{ authenticated: boolean }>((resolve) =>
        socket.once('system:welcome', resolve),
      );
      expect(welcome.authenticated).toBe(true);
      const warned = await new Promise<SessionExpiringPayload>((resolve) => socket.once('session:expiring', resolve));
      expect(warned.expiresAt).toBeGreaterThan(Date.now());
      const ended = await new Promise<SessionEndedPayload>((resolve) => socket.once('session:ended', resolve));
      expect(ended.reason).toBe('timeout');
      await new Promise<void>((resolve) => (socket.connected ? socket.once('disconnect', () => resolve()) : resolve()));
      expect(socket.connected).toBe(false);
      expect((await client.get('/api/account')).status).toBe(401);
    } finally {
      await short.stop();
    }
  });

  it('keeps the session alive when the user chooses to stay', async () => {
    const short = await startServer({ env: { KIS_SESSION_IDLE_SECONDS: '3', KIS_SESSION_WARNING_SECONDS: '2' } });
    try {
      const client = await createFirstAdmin(short, 'stay@kis.test');
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1500));
        expect((await client.post('/api/auth/session/extend')).status).toBe(200);
      }
      expect((await client.get('/api/account')).status).toBe(200);
    } finally {
      await short.stop();
    }
  });
});

describe('sessions across a restart', () => {
  it('survives a server restart with the same data', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-restart-'));
    const mongo = testDatabaseUri();
    try {
      const first = await startServer({ dataDir, env: { MONGODB_URI: mongo } });
      const client = await createFirstAdmin(first, 'restart@kis.test');
      await first.stop();
      const second = await startServer({ dataDir, env: { MONGODB_URI: mongo } });
      try {
        const again = new ApiClient(second, client.ip);
        again.cookie = client.cookie;
        again.csrfToken = client.csrfToken;
        expect((await again.get('/api/account')).status).toBe(200);
        expect((await again.request('PATCH', '/api/account', { phone: '+49 30 123456' })).status).toBe(200);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
