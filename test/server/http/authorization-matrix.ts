/**
 * The authorization matrix: every HTTP route and every client→server socket event of KIS, with
 * the answer each of five callers gets. `authorization-matrix.int.test.ts` calls them all against
 * one server and one fixture, and fails when a route or event exists that is not listed here (or
 * the other way round), or when an answer differs from the one written down.
 *
 * Callers, in the order of every `expect` tuple:
 * - `anonymous`: no cookie;
 * - `sub`: a sub-account of organization A without any right;
 * - `other`: the main account of organization B;
 * - `customer`: the main account of organization A, whose resources the calls name;
 * - `admin`: an operator.
 */

export const CALLERS = ['anonymous', 'sub', 'other', 'customer', 'admin'] as const;
export type CallerName = (typeof CALLERS)[number];

/**
 * Who a route is meant for; the test checks each row's statuses against it:
 * - `public`: everyone gets the same answer, never 401 or 403;
 * - `session`: any signed-in caller, on their own account or data (anonymous 401);
 * - `org`: organization A's resources: its main account and operators (a sub-account without the
 *   right and organization B are refused with 403/404, or get an answer without A's data);
 * - `owner`: only organization A's main account itself (operators use other routes);
 * - `admin`: operators only;
 * - `legacy`: only the main account of a company from the older product (the fixture has none, so
 *   every signed-in caller here is refused).
 */
export type Access = 'public' | 'session' | 'org' | 'owner' | 'admin' | 'legacy';

/** Who may do what a row's access promises. */
export const ALLOWED: Readonly<Record<Access, readonly CallerName[]>> = {
  public: CALLERS,
  session: ['sub', 'other', 'customer', 'admin'],
  org: ['customer', 'admin'],
  owner: ['customer'],
  admin: ['admin'],
  legacy: [],
};

/** The ids of organization A's world, made once before the matrix runs. */
export interface Fixture {
  orgA: string;
  orgB: string;
  mainA: string;
  subA: string;
  /** A second sub-account of A (with `read_areas`) that account-management routes act on. */
  sub2A: string;
  depot: string;
  pin: string;
  /** Area 1 entry for A's main account, area 2 entry for A's domain, an attachment of the first. */
  infoPerson: string;
  infoDomain: string;
  attachment: string;
  /** Area 3: a text of organization A and a kept version of it. */
  doc: string;
  docVersion: string;
  /** Area 4: a file in the file area of A's main account. */
  file: string;
  customer: string;
  draft: string;
  invoice: string;
  payToken: string;
  wave: string;
}

/** Makes throwaway resources of organization A for calls that would destroy them. */
export interface Throwaway {
  file(): Promise<string>;
  document(): Promise<string>;
  info(): Promise<string>;
  attachment(entryId: string): Promise<string>;
  customer(): Promise<string>;
  draft(): Promise<string>;
  openInvoice(): Promise<string>;
  subAccount(): Promise<string>;
  depot(): Promise<string>;
  pin(): Promise<string>;
  /** Grants the second sub-account a role on A's depot and returns its user id. */
  grant(): Promise<string>;
  /** Signs A's main account in once more and returns the new session's id. */
  mainSession(): Promise<string>;
  /** Signs the second sub-account in once more and returns the new session's id. */
  sub2Session(): Promise<string>;
}

/** What a row's builders get: the fixture, the caller, and whether the matrix lets it through. */
export interface CallContext {
  f: Fixture;
  caller: CallerName;
  /** True when the row's expectation for this caller is an allowed answer. */
  allowed: boolean;
  make: Throwaway;
}

type Build<T> = (ctx: CallContext) => T | Promise<T>;

/** One route: how to call it and what each caller gets. */
export interface RouteRow {
  /** `METHOD /path/:param`, exactly as the route is registered. */
  route: string;
  access: Access;
  /** Exact status per caller, in {@link CALLERS} order. */
  expect: readonly [number, number, number, number, number];
  params?: Build<Record<string, string>>;
  /** Query string without `?`. */
  query?: Build<string>;
  /** JSON body (deny callers get this one: valid, so that a refusal is about rights). */
  body?: Build<unknown>;
  /** The body allowed callers send instead: invalid, so a destructive route answers 400 and destroys nothing. */
  allowBody?: Build<unknown>;
  /** A raw body (uploads, imports) instead of JSON. */
  raw?: { contentType: string; data: string };
  /** Call with a fresh login of the caller (logout). */
  freshSession?: boolean;
  /** Call straight from loopback, without the X-Forwarded-For of the test's proxy (a local scraper). */
  direct?: boolean;
  /** Callers whose 2xx answer is about their own world: it must not hold any of A's data. */
  scoped?: readonly CallerName[];
  /**
   * The sub-account rights any one of which admits a caller (`[]`: the main account only). The
   * test then also calls the route as a sub-account of A holding every other right, which must
   * get `partial`: so a route that checks the wrong right is noticed.
   */
  rights?: readonly Right[];
  partial?: number;
  /** Why the row looks the way it does, when not obvious. */
  note?: string;
}

export type Right = 'read_areas' | 'edit_texts' | 'manage_files' | 'see_depots' | 'operate_depots' | 'manage_invoices';

/** An address nobody registered. */
const NOBODY = { email: 'niemand@nirgends.example' };
const SUB_OTHER: readonly CallerName[] = ['sub', 'other'];

/** Invoicing settings as organization A saves them (PayPal at the test's stand-in). */
export const PAYMENT_SETTINGS = {
  issuer: {
    name: 'Alpha GmbH',
    street: 'Hauptstraße 12',
    postalCode: '80331',
    city: 'München',
    country: 'Deutschland',
    taxNumber: '143/123/45678',
    vatId: 'DE123456789',
    email: 'rechnung@alpha.example',
    phone: '+49 89 123456',
  },
  numberPrefix: 'RE-',
  paymentTermDays: 14,
  pinValidDays: 7,
  paypal: { clientId: 'AcmeClientId', secret: 'geheim-Secret-4711', mode: 'sandbox', webhookId: '' },
  // A new secret changes the PayPal credentials: the caller's password again.
  password: 'Ein langes Passwort für Tests 7',
};

/** A customer of organization A; its name is one of the markers no foreign answer may contain. */
export const A_CUSTOMER = { name: 'Zacharias Alphakunde', email: 'zacharias@kunde-alpha.example', city: 'München' };
export const A_DOC_TITLE = 'Alpha Geheimtext';
export const A_INFO_TITLE = 'Alpha Hinweis';
export const INVOICE_ITEMS = [{ description: 'Inspektion', quantity: 1000, unitNetCents: 18_900, vatRate: 19 }];

const id =
  (key: keyof Fixture): Build<Record<string, string>> =>
  ({ f }) => ({ id: f[key] });
const orgQuery: Build<string> = ({ f }) => `organizationId=${f.orgA}`;

export const ROUTES: readonly RouteRow[] = [
  // ─── System and SPA ──────────────────────────────────────────────────────────────────────────
  { route: 'GET /', access: 'public', expect: [200, 200, 200, 200, 200] },
  { route: 'GET /healthz', access: 'public', expect: [200, 200, 200, 200, 200] },
  { route: 'GET /readyz', access: 'public', expect: [200, 200, 200, 200, 200] },
  {
    route: 'GET /metrics',
    access: 'public',
    expect: [200, 200, 200, 200, 200],
    direct: true,
    note: 'loopback clients only, and only without X-Forwarded-For: a request a local proxy forwarded comes from outside',
  },
  { route: 'GET /api/info', access: 'public', expect: [200, 200, 200, 200, 200] },
  { route: 'GET /api/openapi.json', access: 'public', expect: [200, 200, 200, 200, 200] },

  // ─── Auth (public) ───────────────────────────────────────────────────────────────────────────
  { route: 'POST /api/auth/register', access: 'public', expect: [400, 400, 400, 400, 400], body: () => ({}) },
  { route: 'POST /api/auth/verify', access: 'public', expect: [400, 400, 400, 400, 400], body: () => ({}) },
  { route: 'POST /api/auth/password/setup', access: 'public', expect: [400, 400, 400, 400, 400], body: () => ({}) },
  {
    route: 'POST /api/auth/password/forgot',
    access: 'public',
    expect: [202, 202, 202, 202, 202],
    body: () => NOBODY,
  },
  { route: 'POST /api/auth/login', access: 'public', expect: [400, 400, 400, 400, 400], body: () => ({}) },
  { route: 'POST /api/auth/legacy-login', access: 'public', expect: [400, 400, 400, 400, 400], body: () => ({}) },
  { route: 'GET /api/auth/identities', access: 'public', expect: [200, 200, 200, 200, 200] },
  {
    route: 'POST /api/auth/admin-setup/check',
    access: 'public',
    expect: [200, 200, 200, 200, 200],
    body: () => ({ token: 'x'.repeat(32) }),
  },
  { route: 'POST /api/auth/admin-setup', access: 'public', expect: [400, 400, 400, 400, 400], body: () => ({}) },

  // ─── Session and own account ─────────────────────────────────────────────────────────────────
  { route: 'GET /api/auth/session', access: 'session', expect: [401, 200, 200, 200, 200] },
  { route: 'POST /api/auth/session/extend', access: 'session', expect: [401, 200, 200, 200, 200] },
  { route: 'POST /api/auth/logout', access: 'session', expect: [401, 200, 200, 200, 200], freshSession: true },
  { route: 'GET /api/account', access: 'session', expect: [401, 200, 200, 200, 200] },
  {
    route: 'PATCH /api/account',
    access: 'session',
    expect: [401, 200, 200, 200, 200],
    body: () => ({ phone: '+49 40 123456' }),
  },
  {
    route: 'POST /api/account/password',
    access: 'session',
    expect: [401, 400, 400, 400, 400],
    body: () => ({ current: 'Ein langes Passwort für Tests 7', next: 'Ein anderes langes Passwort 8' }),
    allowBody: () => ({}),
  },
  {
    route: 'POST /api/account/email',
    access: 'session',
    expect: [401, 400, 400, 400, 400],
    body: () => ({ newEmail: 'neu@alpha.example', password: 'Ein langes Passwort für Tests 7' }),
    allowBody: () => ({}),
  },
  {
    route: 'POST /api/account/email/confirm',
    access: 'session',
    expect: [401, 400, 400, 400, 400],
    body: () => ({ code: '000000' }),
  },
  { route: 'GET /api/account/sessions', access: 'session', expect: [401, 200, 200, 200, 200] },
  { route: 'POST /api/account/sessions/end-others', access: 'session', expect: [401, 200, 200, 200, 200] },
  {
    route: 'DELETE /api/account/sessions/:id',
    access: 'owner',
    expect: [401, 404, 404, 200, 404],
    params: async ({ make }) => ({ id: await make.mainSession() }),
    note: "a session of A's main account: only its owner ends it here (operators: /api/admin/users)",
  },
  { route: 'GET /api/account/export', access: 'session', expect: [401, 200, 200, 200, 200] },
  {
    route: 'POST /api/account/erase',
    access: 'session',
    expect: [401, 400, 400, 400, 400],
    body: () => ({ password: 'falsch', reason: 'self' }),
    allowBody: () => ({}),
  },
  { route: 'GET /api/areas/summary', access: 'session', expect: [401, 200, 200, 200, 200], scoped: SUB_OTHER },
  { route: 'GET /api/legacy/status', access: 'session', expect: [401, 200, 200, 200, 200] },
  { route: 'GET /api/legacy/wizard', access: 'legacy', expect: [401, 403, 403, 403, 403] },
  {
    route: 'GET /api/legacy/email-check',
    access: 'legacy',
    expect: [401, 403, 403, 403, 403],
    query: () => 'email=neu%40alpha.example',
  },
  {
    route: 'POST /api/legacy/wizard',
    access: 'legacy',
    expect: [401, 403, 403, 403, 403],
    body: ({ f }) => ({ accounts: [{ userId: f.sub2A, email: 'lager@alpha.example' }] }),
  },

  // ─── User administration ─────────────────────────────────────────────────────────────────────
  { route: 'GET /api/admin/users', access: 'admin', expect: [401, 403, 403, 403, 200] },
  {
    route: 'GET /api/admin/users/:id',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('sub2A'),
  },
  {
    route: 'POST /api/admin/users/:id/sessions/end-all',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('sub2A'),
  },
  {
    route: 'DELETE /api/admin/users/:id/sessions/:sessionId',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: async ({ f, make }) => ({ id: f.sub2A, sessionId: await make.sub2Session() }),
  },
  {
    route: 'PUT /api/admin/users/:id/status',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('sub2A'),
    body: () => ({ status: 'active' }),
  },
  {
    route: 'PUT /api/admin/users/:id/ip-ranges',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('sub2A'),
    body: () => ({ ranges: [], password: 'Ein langes Passwort für Tests 7' }),
  },
  {
    route: 'POST /api/admin/users/:id/unlock',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('sub2A'),
  },

  // ─── Organizations and sub-accounts ──────────────────────────────────────────────────────────
  {
    route: 'GET /api/admin/organizations',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    query: () => 'q=Alpha',
  },
  {
    route: 'POST /api/admin/organizations',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    body: () => ({ name: 'Gamma KG', mainEmail: 'chef@gamma.example' }),
  },
  {
    route: 'POST /api/admin/organizations/:id/domains',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('orgA'),
    body: () => ({ domain: 'alpha.example' }),
  },
  {
    route: 'GET /api/admin/organizations/:id/export',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('orgA'),
  },
  {
    route: 'GET /api/organizations/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: [],
    partial: 404,
    params: id('orgA'),
  },
  {
    route: 'POST /api/organizations/:id/sub-accounts',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('orgA'),
    body: ({ caller }) => ({ email: `neu-${caller}@alpha.example`, rights: [] }),
  },
  {
    route: 'PATCH /api/sub-accounts/:id',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('sub2A'),
    body: () => ({ name: 'Lager' }),
  },
  {
    route: 'DELETE /api/sub-accounts/:id',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.subAccount() : f.sub2A }),
  },
  {
    route: 'PUT /api/sub-accounts/:id/ip-ranges',
    access: 'org',
    expect: [401, 403, 403, 200, 200],
    rights: [],
    partial: 403,
    params: id('sub2A'),
    body: () => ({ ranges: [], password: 'Ein langes Passwort für Tests 7' }),
  },

  // ─── Operator pages: overview, audit, outbox, erasures, migration ────────────────────────────
  { route: 'GET /api/admin/overview', access: 'admin', expect: [401, 403, 403, 403, 200] },
  { route: 'GET /api/admin/audit', access: 'admin', expect: [401, 403, 403, 403, 200] },
  {
    route: 'GET /api/admin/audit/export',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    query: () => 'format=csv',
  },
  { route: 'GET /api/admin/outbox', access: 'admin', expect: [401, 403, 403, 403, 200] },
  { route: 'GET /api/admin/erasures', access: 'admin', expect: [401, 403, 403, 403, 200] },
  {
    route: 'POST /api/admin/erasures',
    access: 'admin',
    expect: [401, 403, 403, 403, 400],
    body: () => ({ emails: ['chef@alpha.example'] }),
    allowBody: () => ({}),
  },
  {
    route: 'POST /api/admin/legacy/import',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    query: () => 'format=csv&dryRun=true',
    raw: { contentType: 'text/csv', data: 'company;username;name\n' },
  },
  { route: 'GET /api/admin/legacy/companies', access: 'admin', expect: [401, 403, 403, 403, 200] },
  { route: 'GET /api/admin/migration/waves', access: 'admin', expect: [401, 403, 403, 403, 200] },
  {
    route: 'POST /api/admin/migration/waves',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    body: ({ caller }) => ({ name: `Welle ${caller}` }),
  },
  {
    route: 'POST /api/admin/migration/waves/:id/companies',
    access: 'admin',
    expect: [401, 403, 403, 403, 400],
    params: id('wave'),
    body: () => ({ companies: ['Alpha Alt'] }),
    note: 'no legacy company is imported: the operator is let through and told the company is unknown',
  },
  {
    route: 'POST /api/admin/migration/waves/:id/start',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('wave'),
  },

  // ─── Depots ──────────────────────────────────────────────────────────────────────────────────
  { route: 'GET /api/depots', access: 'org', expect: [401, 200, 200, 200, 200], scoped: SUB_OTHER },
  {
    route: 'POST /api/depots',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    body: ({ f }) => ({ name: 'Depot Neu', compartments: 2, organizationId: f.orgA }),
  },
  {
    route: 'GET /api/depots/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['see_depots', 'operate_depots'],
    partial: 404,
    params: id('depot'),
  },
  {
    route: 'PATCH /api/depots/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: [],
    partial: 403,
    params: id('depot'),
    body: () => ({ name: 'Depot Alpha' }),
  },
  {
    route: 'POST /api/depots/:id/status',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('depot'),
    body: () => ({ status: 'active' }),
  },
  {
    route: 'DELETE /api/depots/:id',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.depot() : f.depot }),
  },
  { route: 'POST /api/depots/:id/rekey', access: 'admin', expect: [401, 403, 403, 403, 200], params: id('depot') },
  {
    route: 'GET /api/depots/:id/history',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['see_depots', 'operate_depots'],
    partial: 404,
    params: id('depot'),
  },
  {
    route: 'POST /api/depots/:id/history',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: id('depot'),
    body: () => ({ kind: 'note', text: 'Schlüssel übergeben' }),
  },
  {
    route: 'GET /api/depots/history/export',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    scoped: ['other'],
    rights: ['see_depots', 'operate_depots'],
    partial: 403,
    query: () => {
      const now = Date.now();
      return `format=csv&from=${new Date(now - 30 * 86_400_000).toISOString()}&to=${new Date(now + 60_000).toISOString()}`;
    },
    note: "the history of every depot the caller may see: organization B's main account gets its own (none of A's)",
  },
  {
    route: 'GET /api/depots/:id/history/export',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['see_depots', 'operate_depots'],
    partial: 404,
    params: id('depot'),
    query: () => 'format=csv',
  },
  {
    route: 'GET /api/depots/:id/commands',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['see_depots', 'operate_depots'],
    partial: 404,
    params: id('depot'),
  },
  {
    route: 'POST /api/depots/:id/commands',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: id('depot'),
    body: () => ({ op: 'open', comp: 1 }),
  },
  {
    route: 'POST /api/depots/:id/alarms/clear',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: id('depot'),
    body: () => ({ kind: 'tamper' }),
  },
  {
    route: 'GET /api/depots/:id/pins',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: id('depot'),
  },
  {
    route: 'POST /api/depots/:id/pins',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: id('depot'),
    body: () => ({ comp: 2, label: 'Matrix' }),
  },
  {
    route: 'POST /api/depots/:id/pins/:pinId/reveal',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: ({ f }) => ({ id: f.depot, pinId: f.pin }),
  },
  {
    route: 'DELETE /api/depots/:id/pins/:pinId',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['operate_depots'],
    partial: 403,
    params: async ({ f, allowed, make }) => ({ id: f.depot, pinId: allowed ? await make.pin() : f.pin }),
  },
  {
    route: 'GET /api/depots/:id/grants',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: [],
    partial: 403,
    params: id('depot'),
  },
  {
    route: 'PUT /api/depots/:id/grants/:userId',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: [],
    partial: 403,
    params: ({ f }) => ({ id: f.depot, userId: f.sub2A }),
    body: () => ({ role: 'viewer' }),
  },
  {
    route: 'DELETE /api/depots/:id/grants/:userId',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: [],
    partial: 403,
    params: async ({ f, allowed, make }) => ({ id: f.depot, userId: allowed ? await make.grant() : f.sub2A }),
  },

  // ─── Areas 1 and 2: information ──────────────────────────────────────────────────────────────
  {
    route: 'GET /api/information',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['read_areas'],
    partial: 403,
    query: () => 'scope=person&email=chef%40alpha.example',
    scoped: ['other'],
  },
  {
    route: 'POST /api/information',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    body: () => ({ scope: 'person', email: 'chef@alpha.example', title: `${A_INFO_TITLE} neu`, body: 'Text' }),
  },
  {
    route: 'PATCH /api/information/:id',
    access: 'admin',
    expect: [401, 403, 403, 403, 409],
    params: id('infoPerson'),
    body: () => ({ title: 'Geändert', version: 99 }),
    note: 'an operator editing from an old version gets 409: allowed, and nothing changes',
  },
  {
    route: 'DELETE /api/information/:id',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.info() : f.infoPerson }),
  },
  {
    route: 'GET /api/information/:id/versions',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('infoPerson'),
  },
  {
    route: 'POST /api/information/:id/read',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['read_areas'],
    partial: 404,
    params: id('infoPerson'),
  },
  {
    route: 'POST /api/information/:id/attachments',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: id('infoPerson'),
    query: () => 'name=anhang.txt',
    raw: { contentType: 'application/octet-stream', data: 'Anhang' },
  },
  {
    route: 'GET /api/information/:id/attachments/:fileId',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['read_areas'],
    partial: 404,
    params: ({ f }) => ({ id: f.infoPerson, fileId: f.attachment }),
  },
  {
    route: 'DELETE /api/information/:id/attachments/:fileId',
    access: 'admin',
    expect: [401, 403, 403, 403, 200],
    params: async ({ f, allowed, make }) => ({
      id: f.infoPerson,
      fileId: allowed ? await make.attachment(f.infoPerson) : f.attachment,
    }),
  },

  // ─── Area 4: files ───────────────────────────────────────────────────────────────────────────
  {
    route: 'GET /api/files',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    query: ({ f }) => `userId=${f.mainA}`,
  },
  {
    route: 'POST /api/files',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    query: ({ f }) => `name=matrix.txt&userId=${f.mainA}`,
    raw: { contentType: 'application/octet-stream', data: 'Hallo' },
  },
  { route: 'GET /api/files/:id', access: 'org', expect: [401, 404, 404, 200, 200], params: id('file') },
  {
    route: 'DELETE /api/files/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.file() : f.file }),
  },

  // ─── Area 3: documents ───────────────────────────────────────────────────────────────────────
  {
    route: 'GET /api/documents',
    access: 'org',
    expect: [401, 200, 200, 200, 200],
    query: orgQuery,
    scoped: SUB_OTHER,
  },
  {
    route: 'POST /api/documents',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['edit_texts'],
    partial: 403,
    body: ({ f }) => ({ title: 'Matrix', forOrganization: true, organizationId: f.orgA }),
    scoped: ['other'],
    note: 'organization B writes into its own area 3: organizationId is for operators only',
  },
  {
    route: 'PATCH /api/documents/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['edit_texts'],
    partial: 403,
    params: id('doc'),
    body: () => ({ title: A_DOC_TITLE }),
  },
  {
    route: 'DELETE /api/documents/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['edit_texts'],
    partial: 403,
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.document() : f.doc }),
  },
  {
    route: 'GET /api/documents/:id/versions',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['read_areas', 'edit_texts'],
    partial: 404,
    params: id('doc'),
  },
  {
    route: 'POST /api/documents/:id/versions',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['edit_texts'],
    partial: 403,
    params: id('doc'),
    body: ({ caller }) => ({ name: `Stand ${caller}` }),
  },
  {
    route: 'GET /api/documents/:id/versions/:versionId',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['read_areas', 'edit_texts'],
    partial: 404,
    params: ({ f }) => ({ id: f.doc, versionId: f.docVersion }),
  },
  {
    route: 'POST /api/documents/:id/versions/:versionId/restore',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['edit_texts'],
    partial: 403,
    params: ({ f }) => ({ id: f.doc, versionId: f.docVersion }),
  },
  {
    route: 'GET /api/documents/:id/export',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['read_areas', 'edit_texts'],
    partial: 404,
    params: id('doc'),
    query: () => 'format=markdown',
  },

  // ─── Payments (owner side) ───────────────────────────────────────────────────────────────────
  {
    route: 'GET /api/payments/settings',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    scoped: ['other'],
  },
  {
    route: 'PUT /api/payments/settings',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    body: () => PAYMENT_SETTINGS,
    scoped: ['other'],
    note: 'organizationId is for operators; organization B saves its own settings',
  },
  {
    route: 'POST /api/payments/settings/test',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    body: () => ({}),
    scoped: ['other'],
  },
  {
    route: 'GET /api/payments/customers',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    scoped: ['other'],
  },
  {
    route: 'POST /api/payments/customers',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    body: () => ({ name: 'Neukunde', email: 'neukunde@kunde.example' }),
    scoped: ['other'],
  },
  {
    route: 'PUT /api/payments/customers/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: id('customer'),
    body: () => A_CUSTOMER,
  },
  {
    route: 'DELETE /api/payments/customers/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.customer() : f.customer }),
  },
  {
    route: 'GET /api/invoices',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    scoped: ['other'],
  },
  {
    route: 'POST /api/invoices',
    access: 'org',
    expect: [401, 403, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: orgQuery,
    body: ({ f }) => ({ customerId: f.customer, items: INVOICE_ITEMS }),
  },
  {
    route: 'GET /api/invoices/export',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: ({ f }) => `format=csv&organizationId=${f.orgA}`,
    scoped: ['other'],
  },
  {
    route: 'GET /api/payments/export',
    access: 'org',
    expect: [401, 403, 200, 200, 200],
    rights: ['manage_invoices'],
    partial: 403,
    query: ({ f }) => `format=csv&organizationId=${f.orgA}`,
    scoped: ['other'],
  },
  {
    route: 'GET /api/invoices/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: id('invoice'),
  },
  {
    route: 'PUT /api/invoices/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: id('draft'),
    body: ({ f }) => ({ customerId: f.customer, items: INVOICE_ITEMS }),
  },
  {
    route: 'DELETE /api/invoices/:id',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.draft() : f.draft }),
  },
  {
    route: 'POST /api/invoices/:id/issue',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.draft() : f.draft }),
  },
  {
    route: 'POST /api/invoices/:id/cancel',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: async ({ f, allowed, make }) => ({ id: allowed ? await make.openInvoice() : f.invoice }),
  },
  {
    route: 'POST /api/invoices/:id/refund',
    access: 'org',
    expect: [401, 404, 404, 409, 409],
    rights: ['manage_invoices'],
    partial: 404,
    params: id('invoice'),
    note: 'an open invoice cannot be refunded: allowed callers get 409 and nothing changes',
  },
  {
    route: 'GET /api/invoices/:id/pdf',
    access: 'org',
    expect: [401, 404, 404, 200, 200],
    rights: ['manage_invoices'],
    partial: 404,
    params: id('invoice'),
  },

  // ─── Payments and privacy (public) ───────────────────────────────────────────────────────────
  {
    route: 'GET /api/pay/:token',
    access: 'public',
    expect: [200, 200, 200, 200, 200],
    params: ({ f }) => ({ token: f.payToken }),
    note: 'the link token is the authority',
  },
  {
    route: 'POST /api/pay/:token/order',
    access: 'public',
    expect: [200, 200, 200, 200, 200],
    params: ({ f }) => ({ token: f.payToken }),
    body: () => ({ lang: 'de' }),
  },
  {
    route: 'POST /api/pay/:token/capture',
    access: 'public',
    expect: [400, 400, 400, 400, 400],
    params: ({ f }) => ({ token: f.payToken }),
    body: () => ({ orderId: 'UNBEKANNT-1' }),
  },
  {
    route: 'POST /api/payments/webhook/:key',
    access: 'public',
    expect: [404, 404, 404, 404, 404],
    params: () => ({ key: 'unbekannter-schluessel-0001' }),
    body: () => ({ id: 'WH-1', event_type: 'PAYMENT.CAPTURE.COMPLETED' }),
  },
  {
    route: 'POST /api/privacy/revocation',
    access: 'public',
    expect: [200, 200, 200, 200, 200],
    body: () => NOBODY,
  },
  {
    route: 'POST /api/privacy/revocation/confirm',
    access: 'public',
    expect: [400, 400, 400, 400, 400],
    body: () => ({ ...NOBODY, code: '123456' }),
  },
];

/** One client→server socket event and the answer each caller's ack carries. */
export interface SocketRow {
  event: string;
  access: Access;
  /** `ok`, an error code of the ack, or `none` for events without an ack. */
  expect: readonly [string, string, string, string, string];
  note?: string;
}

export const SOCKET_EVENTS: readonly SocketRow[] = [
  { event: 'system:ping', access: 'public', expect: ['ok', 'ok', 'ok', 'ok', 'ok'] },
  {
    event: 'depots:watch',
    access: 'org',
    expect: ['unauthorized', 'ok', 'ok', 'ok', 'ok'],
    note: "sub and other get an empty list and join no room: they receive none of A's depot updates",
  },
  { event: 'doc:open', access: 'org', expect: ['unauthorized', 'not_found', 'not_found', 'ok', 'ok'] },
  { event: 'doc:sync', access: 'org', expect: ['unauthorized', 'not_found', 'not_found', 'ok', 'ok'] },
  {
    event: 'doc:awareness',
    access: 'org',
    expect: ['none', 'none', 'none', 'none', 'none'],
    note: 'no ack: only what is relayed to the room is checked',
  },
  {
    event: 'doc:close',
    access: 'public',
    expect: ['ok', 'ok', 'ok', 'ok', 'ok'],
    note: "only leaves the caller's own socket's room",
  },
];

/**
 * Cross-company rows: organization B's main account (`other`) names addresses of A's world, the
 * way the address-takeover attack did. Each row is one call and the status it must get; `forbids`
 * says what must not follow from it (checked by the test).
 */
export interface CrossCompanyRow {
  what: string;
  route: string;
  body?: (f: Fixture) => unknown;
  params?: (f: Fixture, own: { subAtA: string }) => Record<string, string>;
  expect: number;
  code?: string;
  forbids: 'nothing' | 'invitation_to_b' | 'a_data' | 'a_main_changed';
}

export const CROSS_COMPANY: readonly CrossCompanyRow[] = [
  {
    what: "B redirects an address at A's domain to itself",
    route: 'POST /api/organizations/:id/sub-accounts',
    params: (f) => ({ id: f.orgB }),
    body: () => ({ email: 'abfang@alpha.example', rights: [], redirectToMain: true }),
    expect: 400,
    code: 'redirect_not_allowed',
    forbids: 'invitation_to_b',
  },
  {
    what: "B names A's main account's address for a sub-account",
    route: 'POST /api/organizations/:id/sub-accounts',
    params: (f) => ({ id: f.orgB }),
    body: () => ({ email: 'chef@alpha.example', rights: [] }),
    expect: 200,
    forbids: 'a_main_changed',
  },
  {
    what: "B turns the redirect on for its sub-account at A's domain",
    route: 'PATCH /api/sub-accounts/:id',
    params: (_f, own) => ({ id: own.subAtA }),
    body: () => ({ redirectToMain: true }),
    expect: 400,
    code: 'redirect_not_allowed',
    forbids: 'invitation_to_b',
  },
  {
    what: "B's proven sub-account at A's domain reads the company information",
    route: 'GET /api/information?scope=domain',
    expect: 200,
    forbids: 'a_data',
  },
  {
    what: "B's proven sub-account at A's domain asks for its areas",
    route: 'GET /api/areas/summary',
    expect: 200,
    forbids: 'a_data',
  },
];
