import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as encoding from 'lib0/encoding';
import type { Socket } from 'socket.io-client';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { RIGHT_NAMES } from '@kis/protocol/api';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '@kis/protocol/realtime';
import { startPayPalStandIn, type PayPalStandIn } from '../../../scripts/paypal-standin/server.js';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { connectSocket, upload } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { YClient } from '../../helpers/documents.js';
import {
  acceptInvitation,
  createSubAccount,
  customer as registeredCustomer,
  makeOrganization,
  nextIp,
} from '../../helpers/organizations.js';
import { setUpPayments, tokenOf } from '../../helpers/payments.js';
import { ROOT, startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';
import {
  A_CUSTOMER,
  A_DOC_TITLE,
  A_INFO_TITLE,
  ALLOWED,
  CALLERS,
  INVOICE_ITEMS,
  ROUTES,
  SOCKET_EVENTS,
  type CallContext,
  type CallerName,
  type Fixture,
  type RouteRow,
  CROSS_COMPANY,
  type Right,
  type SocketRow,
  type Throwaway,
} from './authorization-matrix.js';

type KisSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

// ─── What exists: routes from the server's source, events from the protocol and the handlers ────

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Source without comments (a route in a TSDoc example is not a route). */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/**
 * `METHOD /path` of every route registered under server/src: calls of `app.get(…)` and friends
 * on a Fastify instance (`app`, or `raw`/`plain` inside a nested plugin) with a literal path.
 * A template path is expanded from the `for (const [name, …] of [['a', …], …])` loop it sits
 * in; anything it cannot expand is returned as is, so that the matrix check fails on it.
 */
function sourceRoutes(): string[] {
  const routes: string[] = [];
  for (const file of tsFiles(path.join(ROOT, 'server/src'))) {
    const text = code(file);
    const call = /\b(?:app|raw|plain)\.(get|post|put|patch|delete)\(\s*(['`])([^'`]*)\2/g;
    for (const match of text.matchAll(call)) {
      const method = (match[1] ?? '').toUpperCase();
      const route = match[3] ?? '';
      const variable = /\$\{(\w+)\}/.exec(route)?.[1];
      if (!variable) {
        routes.push(`${method} ${route}`);
        continue;
      }
      const loop = new RegExp(`for \\(const \\[${variable}\\b[^\\]]*\\] of \\[([\\s\\S]*?)\\] as const\\)`).exec(text);
      const values = loop ? [...(loop[1] ?? '').matchAll(/\[\s*'([^']+)'/g)].map((m) => m[1] ?? '') : [];
      if (values.length === 0) routes.push(`${method} ${route}`);
      for (const value of values) routes.push(`${method} ${route.replace(`\${${variable}}`, value)}`);
    }
  }
  return [...new Set(routes)].sort();
}

/** The client→server events of the protocol's `ClientToServerEvents`. */
function protocolEvents(): string[] {
  const text = code(path.join(ROOT, 'protocol/src/realtime/events.ts'));
  const body = /interface ClientToServerEvents \{([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
  return [...body.matchAll(/^\s*'([^']+)'\s*:/gm)].map((m) => m[1] ?? '').sort();
}

/** The events the Socket.IO handlers (`*socket*.ts`) listen to (Socket.IO's own `disconnect` aside). */
function handledEvents(): string[] {
  const handlers = tsFiles(path.join(ROOT, 'server/src')).filter((file) => /socket[^/]*\.ts$/.test(file));
  const events = handlers.flatMap((file) =>
    [...code(file).matchAll(/\bsocket\.on\(\s*'([^']+)'/g)].map((m) => m[1] ?? ''),
  );
  return [...new Set(events)].filter((e) => e !== 'disconnect').sort();
}

// ─── Server, callers and organization A's world ────────────────────────────────────────────────

let paypal: PayPalStandIn;
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;
let mainA: ApiClient;
let subA: ApiClient;
let mainB: ApiClient;
let anonymous: ApiClient;
let clients: Record<CallerName, ApiClient>;
let f: Fixture;
let make: Throwaway;

const EMAIL: Readonly<Record<Exclude<CallerName, 'anonymous'>, string>> = {
  sub: 'ohne-rechte@alpha.example',
  other: 'chef@beta.example',
  customer: 'chef@alpha.example',
  admin: 'admin@kis.test',
};

function ok<T>(res: { status: number; body: T }, what: string): T {
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function signIn(email: string): Promise<ApiClient> {
  const client = new ApiClient(server, nextIp());
  ok(await client.login(email, GOOD_PASSWORD), `login ${email}`);
  return client;
}

async function currentSessionId(client: ApiClient): Promise<string> {
  const list = ok(
    await client.get<{ items: Array<{ id: string; current: boolean }> }>('/api/account/sessions'),
    'sessions',
  );
  const current = list.items.find((s) => s.current);
  if (!current) throw new Error('no current session');
  return current.id;
}

beforeAll(async () => {
  paypal = await startPayPalStandIn();
  smtp = await startSmtp();
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_PAYPAL_BASE_URL: paypal.url, KIS_PAYPAL_TIMEOUT_SECONDS: '2' },
  });
  admin = await createFirstAdmin(server, EMAIL.admin);
  const a = await makeOrganization(server, smtp, admin, 'Alpha GmbH', EMAIL.customer);
  const b = await makeOrganization(server, smtp, admin, 'Beta AG', EMAIL.other);
  mainA = a.main;
  mainB = b.main;
  // A registered customer without a company, for the operator to make one of.
  await registeredCustomer(server, smtp, 'chef@gamma.example');
  ok(await admin.post(`/api/admin/organizations/${a.org.id}/domains`, { domain: 'alpha.example' }), 'domain');

  const member = async (email: string, rights: string[]): Promise<{ id: string; client: ApiClient }> => {
    const id = await createSubAccount(mainA, a.org.id, { email, rights });
    return { id, client: await acceptInvitation(server, smtp, email) };
  };
  const sub = await member(EMAIL.sub, []);
  const sub2 = await member('lager@alpha.example', ['read_areas']);
  subA = sub.client;
  anonymous = new ApiClient(server, nextIp());
  clients = { anonymous, sub: subA, other: mainB, customer: mainA, admin };

  const depotOfA = async (): Promise<string> =>
    (await registerDepot(admin, { name: 'Depot Alpha', organizationId: a.org.id })).depot.depotId;
  const depot = await depotOfA();
  const pinOf = async (): Promise<string> =>
    ok(await admin.post<{ pin: { pinId: string } }>(`/api/depots/${depot}/pins`, { comp: 1, label: 'Wegwerf' }), 'pin')
      .pin.pinId;
  const infoOf = async (): Promise<string> =>
    ok(
      await admin.post<{ id: string }>('/api/information', {
        scope: 'person',
        email: EMAIL.customer,
        title: A_INFO_TITLE,
        body: 'Nur für Alpha',
      }),
      'info',
    ).id;
  const attachmentOf = async (entryId: string): Promise<string> =>
    ok(
      await upload<{ id: string }>(
        admin,
        `/api/information/${entryId}/attachments?name=anhang.txt`,
        new TextEncoder().encode('Anhang für Alpha'),
      ),
      'attachment',
    ).id;
  const fileOf = async (): Promise<string> =>
    ok(
      await upload<{ id: string }>(mainA, '/api/files?name=alpha.txt', new TextEncoder().encode('Datei von Alpha')),
      'file',
    ).id;
  const documentOf = async (): Promise<string> =>
    ok(await mainA.post<{ id: string }>('/api/documents', { title: A_DOC_TITLE, forOrganization: true }), 'document')
      .id;
  await setUpPayments(mainA);
  const customerOf = async (): Promise<string> =>
    ok(await mainA.post<{ id: string }>('/api/payments/customers', A_CUSTOMER), 'customer').id;
  const customer = await customerOf();
  const draftOf = async (): Promise<string> =>
    ok(await mainA.post<{ id: string }>('/api/invoices', { customerId: customer, items: INVOICE_ITEMS }), 'draft').id;
  const openInvoiceOf = async (): Promise<{ id: string; payUrl: string | null }> =>
    ok(await mainA.post<{ id: string; payUrl: string | null }>(`/api/invoices/${await draftOf()}/issue`), 'issue');
  let subAccounts = 0;

  make = {
    file: fileOf,
    document: documentOf,
    info: infoOf,
    attachment: attachmentOf,
    customer: customerOf,
    draft: draftOf,
    openInvoice: async () => (await openInvoiceOf()).id,
    subAccount: async () =>
      createSubAccount(mainA, a.org.id, { email: `wegwerf-${++subAccounts}@alpha.example`, rights: [] }),
    depot: depotOfA,
    pin: pinOf,
    grant: async () => {
      ok(await admin.request('PUT', `/api/depots/${depot}/grants/${sub2.id}`, { role: 'viewer' }), 'grant');
      return sub2.id;
    },
    mainSession: async () => currentSessionId(await signIn(EMAIL.customer)),
    sub2Session: async () => currentSessionId(await signIn('lager@alpha.example')),
  };

  const infoPerson = await infoOf();
  const doc = await documentOf();
  const invoice = await openInvoiceOf();
  f = {
    orgA: a.org.id,
    orgB: b.org.id,
    mainA: ok(await mainA.get<{ id: string }>('/api/account'), 'account').id,
    subA: sub.id,
    sub2A: sub2.id,
    depot,
    pin: await pinOf(),
    infoPerson,
    infoDomain: ok(
      await admin.post<{ id: string }>('/api/information', {
        scope: 'domain',
        domain: 'alpha.example',
        title: A_INFO_TITLE,
        body: 'Für alle bei Alpha',
      }),
      'domain info',
    ).id,
    attachment: await attachmentOf(infoPerson),
    doc,
    docVersion: ok(
      await mainA.post<{ id: string }>(`/api/documents/${doc}/versions`, { name: 'Erster Stand' }),
      'version',
    ).id,
    file: await fileOf(),
    customer,
    draft: await draftOf(),
    invoice: invoice.id,
    payToken: tokenOf(invoice.payUrl),
    wave: ok(await admin.post<{ id: string }>('/api/admin/migration/waves', { name: 'Welle Alpha' }), 'wave').id,
  };
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
});

// ─── Calling a route as a caller ───────────────────────────────────────────────────────────────

interface Answer {
  status: number;
  text: string;
}

const isDeny = (status: number): boolean => status === 401 || status === 403 || status === 404;
const is2xx = (status: number): boolean => status >= 200 && status < 300;

function expected(row: RouteRow, caller: CallerName): number {
  return row.expect[CALLERS.indexOf(caller)] ?? 0;
}

/** Sub-accounts of A holding every right but some, by the rights they lack. */
const partialSubs = new Map<string, ApiClient>();

/** A sub-account of A with every right except `missing` (made on first use). */
async function partialSub(missing: readonly Right[]): Promise<ApiClient> {
  const key = [...missing].sort().join('+');
  let client = partialSubs.get(key);
  if (!client) {
    const email = `teilweise-${partialSubs.size + 1}@alpha.example`;
    const rights = RIGHT_NAMES.filter((r) => !missing.includes(r));
    ok(await mainA.post(`/api/organizations/${f.orgA}/sub-accounts`, { email, rights }), `sub-account ${email}`);
    client = await acceptInvitation(server, smtp, email);
    partialSubs.set(key, client);
  }
  return client;
}

/** Calls a row's route as a caller (or, `as`, as another client in the caller's place). */
async function callRoute(row: RouteRow, caller: CallerName, as?: ApiClient): Promise<Answer> {
  const [method = 'GET', pattern = '/'] = row.route.split(' ');
  const ctx: CallContext = { f, caller, allowed: ALLOWED[row.access].includes(caller), make };
  const params = (await row.params?.(ctx)) ?? {};
  const pathname = pattern.replace(/:(\w+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`${row.route}: no value for :${name}`);
    return encodeURIComponent(value);
  });
  const query = (await row.query?.(ctx)) ?? '';
  let client = as ?? clients[caller];
  if (row.freshSession && caller !== 'anonymous') client = await signIn(EMAIL[caller]);
  const body = ctx.allowed && row.allowBody ? await row.allowBody(ctx) : await row.body?.(ctx);
  const headers: Record<string, string> = { accept: 'application/json, text/html' };
  if (!row.direct) headers['x-forwarded-for'] = client.ip;
  if (client.cookie) headers.cookie = client.cookie;
  if (client.csrfToken && method !== 'GET') headers['x-csrf-token'] = client.csrfToken;
  let payload: string | undefined;
  if (row.raw) {
    headers['content-type'] = row.raw.contentType;
    payload = row.raw.data;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${server.url}${pathname}${query ? `?${query}` : ''}`, {
    method,
    headers,
    body: payload ?? null,
    redirect: 'manual',
  });
  return { status: res.status, text: await res.text() };
}

/** What organization A holds that no answer to a foreign or rightless caller may contain. */
function markers(caller: CallerName): string[] {
  const ids = [
    f.depot,
    f.pin,
    f.infoPerson,
    f.infoDomain,
    f.attachment,
    f.doc,
    f.docVersion,
    f.file,
    f.customer,
    f.draft,
    f.invoice,
  ];
  const names = [A_CUSTOMER.name, A_DOC_TITLE, A_INFO_TITLE];
  const org = caller === 'other' ? [f.orgA, f.mainA, f.sub2A, EMAIL.customer] : [];
  return [...ids, ...names, ...org];
}

/** Where a row's answers break what its access class promises. */
function violations(row: RouteRow, answers: Record<CallerName, Answer>): string[] {
  const found: string[] = [];
  const statuses = CALLERS.map((c) => answers[c].status);
  for (const caller of CALLERS) {
    const { status, text } = answers[caller];
    if (status >= 500) found.push(`${caller}: server error ${status}`);
    if (row.access === 'public') {
      if (status === 401 || status === 403) found.push(`${caller}: ${status} on a public route`);
      continue;
    }
    const scoped = row.scoped?.includes(caller) ?? false;
    if (scoped && is2xx(status)) {
      for (const marker of markers(caller))
        if (text.includes(marker)) found.push(`${caller}: the answer holds A's ${marker}`);
    }
    if (ALLOWED[row.access].includes(caller)) {
      if (isDeny(status)) found.push(`${caller}: allowed, but got ${status}`);
      continue;
    }
    if (caller === 'anonymous') {
      if (status !== 401) found.push(`anonymous: ${status} instead of 401`);
      continue;
    }
    if (!(status === 403 || status === 404 || (scoped && is2xx(status))))
      found.push(`${caller}: not allowed, but got ${status}`);
  }
  if (row.access === 'public' && new Set(statuses).size !== 1)
    found.push(`public route answers differently per caller: ${statuses.join(' ')}`);
  return found;
}

// ─── The matrix ────────────────────────────────────────────────────────────────────────────────

describe('the authorization matrix covers', () => {
  it('every HTTP route the server registers, and nothing else', async () => {
    const listed = ROUTES.map((r) => r.route).sort();
    expect(new Set(listed).size, 'a route is listed twice').toBe(listed.length);
    expect(listed).toEqual(sourceRoutes());
  });

  it('every route the running server documents (OpenAPI), as found in the source', async () => {
    const spec = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(spec.paths).flatMap(([route, methods]) =>
      Object.keys(methods)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => `${m.toUpperCase()} ${route.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    // Swagger UI's own pages are static and public; everything else must be a listed route.
    const api = documented.filter((r) => !r.includes('/api/docs'));
    expect(api.length).toBeGreaterThan(100);
    expect(api.filter((r) => !ROUTES.some((row) => row.route === r))).toEqual([]);
  });

  it('every client→server socket event of the protocol and of the handlers', () => {
    const listed = SOCKET_EVENTS.map((e) => e.event).sort();
    expect(listed).toEqual(protocolEvents());
    expect(listed).toEqual(handledEvents());
  });
});

describe('HTTP routes as anonymous, sub-account without rights, other organization, customer, admin', () => {
  it.each(ROUTES.map((row) => ({ ...row, name: row.route })))('$name', async (row) => {
    const answers = {} as Record<CallerName, Answer>;
    for (const caller of CALLERS) answers[caller] = await callRoute(row, caller);
    const got = Object.fromEntries(CALLERS.map((c) => [c, answers[c].status]));
    const want = Object.fromEntries(CALLERS.map((c) => [c, expected(row, c)]));
    const detail = CALLERS.map((c) => `${c} ${answers[c].status} ${answers[c].text.slice(0, 160)}`).join('\n');
    expect(got, detail).toEqual(want);
    expect(violations(row, answers), detail).toEqual([]);
    if (row.rights) {
      // A sub-account with every other right is refused just the same.
      const answer = await callRoute(row, 'sub', await partialSub(row.rights));
      const partial = `${answer.status} ${answer.text.slice(0, 160)}`;
      expect({ partial: answer.status }, partial).toEqual({ partial: row.partial });
      expect([403, 404], partial).toContain(answer.status);
    }
  });

  it('answers anonymous callers of every private route with 401 before looking at what they sent', async () => {
    // A junk body and query: a route that validated before it authenticated would answer 400 and
    // tell a stranger what it expects.
    const answers: string[] = [];
    for (const row of ROUTES.filter((r) => r.access !== 'public')) {
      const [method = 'GET', pattern = '/'] = row.route.split(' ');
      const pathname = pattern.replace(/:(\w+)/g, 'x');
      const res = await fetch(`${server.url}${pathname}?page=-1&pageSize=abc&format=exe`, {
        method,
        headers: { 'x-forwarded-for': '192.0.2.77', 'content-type': 'application/json' },
        body: method === 'GET' || method === 'HEAD' ? null : '{"junk": [1, 2, 3], "email": 42',
        redirect: 'manual',
      });
      if (res.status !== 401) answers.push(`${row.route}: ${res.status} ${(await res.text()).slice(0, 120)}`);
    }
    expect(answers).toEqual([]);
  });

  it('refuses a state-changing request with a valid session but without the CSRF token', async () => {
    const res = await fetch(`${server.url}/api/documents`, {
      method: 'POST',
      headers: { 'x-forwarded-for': mainA.ip, cookie: mainA.cookie ?? '', 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Ohne Token', forOrganization: true }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'csrf_invalid' } });
    // The same request with the token goes through: the refusal was the token's.
    expect((await mainA.post('/api/documents', { title: 'Mit Token', forOrganization: true })).status).toBe(200);
  });
});

describe("cross-company: organization B naming addresses of A's world", () => {
  let subAtA: { id: string; client: ApiClient };

  beforeAll(async () => {
    // A person at A's domain whom B invited, who accepted from their own mailbox: a proven address.
    const email = 'nebenbei@alpha.example';
    const id = await createSubAccount(mainB, f.orgB, { email, rights: ['read_areas'] });
    subAtA = { id, client: await acceptInvitation(server, smtp, email) };
  });

  it.each(CROSS_COMPANY.map((row) => ({ ...row, name: row.what })))('$name', async (row) => {
    const since = smtp.mails.length;
    const [method = 'GET', pattern = '/'] = row.route.split(' ');
    const params = row.params?.(f, { subAtA: subAtA.id }) ?? {};
    const path = pattern.replace(/:(\w+)/g, (_, name: string) => params[name] ?? '');
    const caller = row.forbids === 'a_data' ? subAtA.client : mainB;
    const res = await caller.request<{ error?: { code: string } }>(method, path, row.body?.(f));
    expect([res.status, res.body?.error?.code], JSON.stringify(res.body)).toEqual([row.expect, row.code]);
    if (row.forbids === 'a_data') {
      const text = JSON.stringify(res.body);
      for (const marker of [A_INFO_TITLE, f.infoDomain, 'alpha.example']) expect(text).not.toContain(marker);
    }
    if (row.forbids === 'a_main_changed') {
      const session = ok(
        await mainA.get<{ user: { organizationId: string; accountType: string } }>('/api/auth/session'),
        'session',
      );
      expect(session.user).toMatchObject({ organizationId: f.orgA, accountType: 'main' });
    }
    // Nothing of it reaches B's mailbox (an invitation or a reset for an address B does not hold).
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.mails.slice(since).filter((m) => m.to.includes(EMAIL.other))).toEqual([]);
  });
});

// ─── Socket events ─────────────────────────────────────────────────────────────────────────────

describe('socket events as the five callers', () => {
  const sockets = {} as Record<CallerName, KisSocket>;
  /** Everything each socket received about organization A's depot and text. */
  const received = Object.fromEntries(CALLERS.map((c) => [c, [] as string[]])) as Record<CallerName, string[]>;
  /** The awareness updates each socket had relayed to it, as text (they carry the sender's name). */
  const awareness = Object.fromEntries(CALLERS.map((c) => [c, [] as string[]])) as Record<CallerName, string[]>;
  const editors: Partial<Record<CallerName, YClient>> = {};

  beforeAll(async () => {
    for (const caller of CALLERS) {
      const socket = await connectSocket(server, clients[caller]);
      sockets[caller] = socket;
      socket.on('depot:update', (v) => v.depotId === f.depot && received[caller].push('depot:update'));
      socket.on('depot:changed', (v) => v.depotId === f.depot && received[caller].push('depot:changed'));
      socket.on('doc:sync', (v) => v.docId === f.doc && received[caller].push('doc:sync'));
      socket.on('doc:awareness', (v) => {
        if (v.docId === f.doc) awareness[caller].push(Buffer.from(v.update).toString('utf8'));
      });
    }
  });
  afterAll(() => {
    for (const socket of Object.values(sockets)) socket.disconnect();
  });

  function stepOne(): Uint8Array {
    const encoder = encoding.createEncoder();
    syncProtocol.writeSyncStep1(encoder, new Y.Doc());
    return encoding.toUint8Array(encoder);
  }

  function awarenessUpdate(name: string): Uint8Array {
    const doc = new Y.Doc();
    const state = new awarenessProtocol.Awareness(doc);
    state.setLocalStateField('user', { name: `Matrix-${name}` });
    return awarenessProtocol.encodeAwarenessUpdate(state, [doc.clientID]);
  }

  async function emit(caller: CallerName, event: string): Promise<Ack<unknown> | 'none'> {
    const socket = sockets[caller];
    switch (event) {
      case 'system:ping':
        return socket.timeout(5000).emitWithAck('system:ping', { sentAt: Date.now() });
      case 'depots:watch':
        return socket.timeout(5000).emitWithAck('depots:watch', { depotIds: [f.depot] });
      case 'doc:open': {
        if (caller === 'customer' || caller === 'admin') {
          const editor = new YClient(socket, f.doc);
          editors[caller] = editor;
          return editor.open();
        }
        return socket.timeout(5000).emitWithAck('doc:open', { docId: f.doc });
      }
      case 'doc:sync':
        return socket.timeout(5000).emitWithAck('doc:sync', { docId: f.doc, message: stepOne() });
      case 'doc:awareness':
        socket.emit('doc:awareness', { docId: f.doc, update: awarenessUpdate(caller) });
        return 'none';
      case 'doc:close':
        return socket.timeout(5000).emitWithAck('doc:close', { docId: f.doc });
      default:
        throw new Error(`no payload for ${event}`);
    }
  }

  const outcome = (answer: Ack<unknown> | 'none'): string =>
    answer === 'none' ? 'none' : answer.ok ? 'ok' : answer.error.code;

  it('admits an anonymous socket as anonymous, and refuses a cookie without its CSRF token', async () => {
    const welcome = await new Promise<{ authenticated: boolean }>((resolve, reject) => {
      const probe: KisSocket = io(server.url, {
        transports: ['websocket'],
        reconnection: false,
        extraHeaders: { 'x-forwarded-for': anonymous.ip },
      });
      probe.once('system:welcome', (w) => {
        probe.disconnect();
        resolve(w);
      });
      probe.once('connect_error', reject);
    });
    expect(welcome.authenticated).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      const probe: KisSocket = io(server.url, {
        transports: ['websocket'],
        reconnection: false,
        extraHeaders: { cookie: mainA.cookie ?? '', 'x-forwarded-for': mainA.ip },
        auth: { csrfToken: 'falsch', identity: 0 },
      });
      probe.once('connect', () => {
        probe.disconnect();
        resolve('connected');
      });
      probe.once('connect_error', (err) => resolve(err.message));
    });
    expect(refused).toBe('unauthorized');
  });

  const checkEvent = async (row: SocketRow): Promise<void> => {
    const got: Record<string, string> = {};
    const values: Partial<Record<CallerName, unknown>> = {};
    for (const caller of CALLERS) {
      const answer = await emit(caller, row.event);
      got[caller] = outcome(answer);
      if (answer !== 'none' && answer.ok) values[caller] = answer.value;
    }
    const want = Object.fromEntries(CALLERS.map((c, i) => [c, row.expect[i]]));
    expect(got).toEqual(want);
    for (const caller of CALLERS) {
      const allowed = ALLOWED[row.access].includes(caller);
      if (!allowed && got[caller] === 'ok' && row.access !== 'public') {
        // Answered, but about nothing of A's (depots:watch lists only what the caller may see).
        expect(JSON.stringify(values[caller]), caller).toBe('[]');
      }
      if (!allowed && row.access !== 'public' && got[caller] !== 'ok' && got[caller] !== 'none')
        expect(['unauthorized', 'forbidden', 'not_found'], caller).toContain(got[caller]);
    }
  };
  const closing = (row: SocketRow): boolean => row.event === 'doc:close';

  it.each(SOCKET_EVENTS.filter((row) => !closing(row)).map((row) => ({ ...row, name: row.event })))(
    '$name',
    checkEvent,
  );

  it("sends A's depot and text news only to the sockets that may see them", async () => {
    // A change of the depot (a manual history entry) and of the text (the main account types).
    expect((await admin.post(`/api/depots/${f.depot}/history`, { kind: 'note', text: 'Matrix' })).status).toBe(200);
    const customerEditor = editors.customer;
    const adminEditor = editors.admin;
    if (!customerEditor || !adminEditor) throw new Error('the editors did not open the text');
    expect((await customerEditor.typed(0, 'Hallo ')).ok).toBe(true);
    await expect
      .poll(() => received.admin, { timeout: 5000 })
      .toEqual(expect.arrayContaining(['depot:changed', 'doc:sync']));
    await expect.poll(() => received.customer, { timeout: 5000 }).toEqual(expect.arrayContaining(['depot:changed']));
    // Give stray messages time to arrive before saying none did.
    await new Promise((r) => setTimeout(r, 300));
    expect({ anonymous: received.anonymous, sub: received.sub, other: received.other }).toEqual({
      anonymous: [],
      sub: [],
      other: [],
    });
    // The awareness of an editor reached the other editor; what the refused callers sent, nobody.
    expect(awareness.admin.some((u) => u.includes('Matrix-customer'))).toBe(true);
    const relayed = CALLERS.flatMap((c) => awareness[c]);
    for (const refused of ['anonymous', 'sub', 'other']) expect(relayed.join('\n')).not.toContain(`Matrix-${refused}`);
    expect({ anonymous: awareness.anonymous, sub: awareness.sub, other: awareness.other }).toEqual({
      anonymous: [],
      sub: [],
      other: [],
    });
  });

  it.each(SOCKET_EVENTS.filter(closing).map((row) => ({ ...row, name: row.event })))('$name', checkEvent);
});
