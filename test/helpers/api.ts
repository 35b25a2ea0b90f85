import type { TestServer } from './server.js';

/** One response, parsed. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A browser-like API client for one identity: keeps its cookie, sends the CSRF token it got at
 * login, and claims a client address through X-Forwarded-For (the test server trusts loopback).
 */
export class ApiClient {
  /** The browser's cookie jar: name → value. */
  readonly cookies = new Map<string, string>();
  csrfToken: string | undefined;
  /** The identity slot requests act as (X-KIS-Identity); undefined sends no header. */
  identity: number | undefined;

  /** The Cookie header this browser sends; assigning replaces the jar (e.g. with a stolen cookie). */
  get cookie(): string | undefined {
    return this.cookies.size ? [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  set cookie(header: string | undefined) {
    this.cookies.clear();
    for (const pair of (header ?? '').split(';')) {
      const [name, ...value] = pair.trim().split('=');
      if (name) this.cookies.set(name, value.join('='));
    }
  }

  constructor(
    readonly server: Pick<TestServer, 'url'>,
    public ip = '203.0.113.10',
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.server.url}${path}`, {
      method,
      headers: {
        'x-forwarded-for': this.ip,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(this.identity !== undefined ? { 'x-kis-identity': String(this.identity) } : {}),
        ...(this.csrfToken && method !== 'GET' ? { 'x-csrf-token': this.csrfToken } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : null,
      redirect: 'manual',
    });
    for (const setCookie of res.headers.getSetCookie()) {
      const [pair = ''] = setCookie.split(';');
      const [name = '', ...value] = pair.split('=');
      const expired = /expires=Thu, 01 Jan 1970/i.test(setCookie) || value.join('=') === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value.join('='));
    }
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
  }

  get<T = Record<string, unknown>>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = Record<string, unknown>>(path: string, body?: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body ?? {});
  }

  /** Logs in and keeps the cookie and CSRF token. */
  async login(email: string, password: string): Promise<ApiResponse<{ csrfToken: string; user: { id: string } }>> {
    const res = await this.post<{ csrfToken: string; user: { id: string } }>('/api/auth/login', { email, password });
    if (res.status === 200) this.csrfToken = res.body.csrfToken;
    return res;
  }
}

/** A password that passes the policy. */
export const GOOD_PASSWORD = 'Ein langes Passwort für Tests 7';

/** Creates the first administrator through the one-time link the server printed at start. */
export async function createFirstAdmin(
  server: TestServer,
  email = 'admin@kis.test',
  password = GOOD_PASSWORD,
): Promise<ApiClient> {
  let token: string | undefined;
  // stderr and stdout are separate pipes: the link may arrive just after the "listening" line.
  for (let i = 0; i < 100 && !token; i++) {
    token = /#token=([A-Za-z0-9_-]+)/.exec(server.stderr())?.[1];
    if (!token) await new Promise((r) => setTimeout(r, 50));
  }
  if (!token) throw new Error(`the server printed no set-up link: ${server.stderr()}`);
  const client = new ApiClient(server, '198.51.100.1');
  const res = await client.post('/api/auth/admin-setup', { token, email, name: 'Ada Admin', password });
  if (res.status !== 200) throw new Error(`admin set-up failed: ${JSON.stringify(res.body)}`);
  const login = await client.login(email, password);
  if (login.status !== 200) throw new Error(`admin login failed: ${JSON.stringify(login.body)}`);
  return client;
}

/**
 * Registers a customer through the real flow (code by mail, password) and returns it logged in.
 * `smtp` must be the server's SMTP_URL target.
 */
export async function registerCustomer(
  server: TestServer,
  smtp: { waitFor(to: string, subject?: RegExp): Promise<{ text: string }> },
  email: string,
  ip: string,
): Promise<ApiClient> {
  const client = new ApiClient(server, ip);
  await client.post('/api/auth/register', { email });
  const mail = await smtp.waitFor(email, /Bestätigungscode/);
  const code = /\b(\d{6})\b/.exec(mail.text)?.[1];
  const { body } = await client.post<{ setupToken: string }>('/api/auth/verify', { purpose: 'register', email, code });
  const set = await client.post('/api/auth/password/setup', { setupToken: body.setupToken, password: GOOD_PASSWORD });
  if (set.status !== 200) throw new Error(`registration of ${email} failed: ${JSON.stringify(set.body)}`);
  await client.login(email, GOOD_PASSWORD);
  return client;
}
