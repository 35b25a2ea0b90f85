/**
 * A stand-in for the parts of PayPal's REST API that KIS uses, for tests and the local demo: OAuth2
 * client credentials, Orders v2 (create, show, capture), Payments v2 (show capture, refund, show
 * refund), Webhooks v1 (create, list, delete, verify-webhook-signature) and the payer's approval
 * page. KIS only knows a base URL, so everything here follows PayPal's wire format: paths, methods,
 * headers, status codes, JSON shapes and error bodies (`{name, message, debug_id, details, links}`
 * for the REST APIs, `{error, error_description}` for OAuth), as documented at developer.paypal.com
 * and in paypal/paypal-rest-api-specifications.
 *
 * What it leaves out, on purpose: intent AUTHORIZE, more than one purchase unit, payment sources
 * other than `paypal`, PATCH, real signatures (a delivery is signed with an HMAC only this process
 * knows, so only its own verify-webhook-signature can check it) and webhook retries.
 *
 * State lives in memory and dies with the process.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

// ─── Public types ───────────────────────────────────────────────────────────────────────────────

/** An amount as PayPal writes it: `{ currency_code: 'EUR', value: '119.00' }`. */
export interface Money {
  currency_code: string;
  value: string;
}

/** The order statuses the stand-in goes through (PayPal has more: SAVED, VOIDED). */
export type StandInOrderStatus = 'CREATED' | 'PAYER_ACTION_REQUIRED' | 'APPROVED' | 'COMPLETED';

/** An order as a test sees it, for assertions. */
export interface StandInOrder {
  id: string;
  /** The REST app that created it; only that app's tokens can read, capture or refund it. */
  clientId: string;
  status: StandInOrderStatus;
  amount: Money;
  custom_id?: string;
  invoice_id?: string;
  /** Set once the order is captured. */
  captureId?: string;
  /** How much of the capture was refunded so far, in the order's currency: "0.00" until a refund. */
  refunded: string;
}

/** A webhook delivery the stand-in made (or tried to make). */
export interface StandInWebhookDelivery {
  url: string;
  eventType: string;
  transmissionId: string;
  /** The listener's HTTP status, or 'error' when the connection failed or timed out. */
  status: number | 'error';
}

/** Faults a test can switch on and off at any time; they apply from the next request on. */
export interface StandInSwitches {
  /** Captures fail with 422 INSTRUMENT_DECLINED; the order stays APPROVED and can be captured later. */
  decline: boolean;
  /**
   * Every API answer (not the approval page) is held back this many milliseconds. The request
   * takes effect first, as when PayPal committed a capture and the answer got lost on the way: a
   * client that gives up must find out what happened (idempotent retry, GET) instead of assuming.
   */
  timeoutMs: number;
  /** Every webhook event is delivered twice, with the same event id and transmission id. */
  duplicateWebhook: boolean;
  /** API requests get their connection reset without an answer (a network error for the client). */
  down: boolean;
}

/** A running stand-in. */
export interface PayPalStandIn {
  /** Base URL of the API and of the approval page, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly switches: StandInSwitches;
  /** Every order, oldest first. */
  orders(): ReadonlyArray<StandInOrder>;
  /** Every webhook delivery so far, in the order they finished. */
  webhooksSent(): ReadonlyArray<StandInWebhookDelivery>;
  /**
   * Does what the payer's "Jetzt bezahlen" click does: approves the order and returns where PayPal
   * sends the browser (`return_url?token=<order id>&PayerID=<payer id>`). Throws for an unknown or
   * completed order, or one created without a return_url.
   */
  approve(orderId: string): Promise<string>;
  /** Stops listening, drops open connections, pending answers and webhook deliveries. */
  close(): Promise<void>;
}

/** How to start the stand-in; every field is optional. */
export interface PayPalStandInOptions {
  /** Interface to listen on. Default 127.0.0.1: the stand-in is not meant to be reachable from outside. */
  host?: string;
  /** Port; default 0, so the system picks a free one (read it from `url`). */
  port?: number;
  /**
   * The REST apps that may get a token. Default: any client id with a secret that is neither empty
   * nor literally "wrong", so a demo works with whatever is typed in and a test can still provoke
   * invalid_client.
   */
  clients?: Array<{ clientId: string; secret: string }>;
  /** Delay between the change and its webhook delivery. Default 50 ms: after the API answer, like PayPal. */
  webhookDelayMs?: number;
}

/**
 * Starts a PayPal stand-in on node:http.
 *
 * @example
 * const paypal = await startPayPalStandIn({ clients: [{ clientId: 'kis', secret: 's3cret' }] });
 * // KIS_PAYPAL_BASE_URL=paypal.url …
 * paypal.switches.decline = true; // the next capture is declined
 * await paypal.close();
 */
export async function startPayPalStandIn(options: PayPalStandInOptions = {}): Promise<PayPalStandIn> {
  const standIn = new StandIn(options);
  await standIn.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return standIn;
}

// ─── Constants ──────────────────────────────────────────────────────────────────────────────────

const MAX_BODY_BYTES = 1024 * 1024;
/** PayPal's tokens live nine hours. */
const TOKEN_LIFETIME_S = 32_400;
/** Orders to a webhook listener give up after this long and count as 'error'. */
const DELIVERY_TIMEOUT_MS = 10_000;
const AUTH_ALGO = 'SHA256withRSA';
const SCOPE = [
  'https://uri.paypal.com/services/payments/payment',
  'https://uri.paypal.com/services/payments/refund',
  'https://uri.paypal.com/services/applications/webhooks',
  'openid',
].join(' ');
/** Currencies without minor units (PayPal refuses decimals for them with DECIMALS_NOT_SUPPORTED). */
const ZERO_DECIMAL_CURRENCIES: ReadonlySet<string> = new Set(['HUF', 'JPY', 'TWD']);
/** The one sandbox buyer who approves every order. */
const BUYER = {
  name: { given_name: 'Erika', surname: 'Mustermann' },
  email_address: 'sb-buyer@personal.example.com',
  address: { country_code: 'DE' },
} as const;
/** The events the stand-in sends. */
type StandInEventType = 'CHECKOUT.ORDER.APPROVED' | 'PAYMENT.CAPTURE.COMPLETED' | 'PAYMENT.CAPTURE.REFUNDED';
const MAX_WEBHOOKS_PER_APP = 10;

const MESSAGES = {
  INVALID_REQUEST: 'Request is not well-formed, syntactically incorrect, or violates schema.',
  UNPROCESSABLE_ENTITY:
    'The requested action could not be performed, semantically incorrect, or failed business validation.',
  RESOURCE_NOT_FOUND: 'The specified resource does not exist.',
  AUTHENTICATION_FAILURE:
    'Authentication failed due to invalid authentication credentials or a missing Authorization header.',
  UNSUPPORTED_MEDIA_TYPE: "The server does not support the request payload's media type.",
  INTERNAL_SERVER_ERROR: 'An internal server error occurred.',
} as const;

/** PayPal's texts for the issues the stand-in raises (their `description`). */
const ISSUES = {
  MALFORMED_REQUEST_JSON: 'The request JSON is not well formed.',
  MISSING_REQUIRED_PARAMETER: 'A required parameter is missing.',
  INVALID_PARAMETER_VALUE: 'A parameter value is not valid.',
  INVALID_PARAMETER_SYNTAX: 'The value of a field does not conform to the expected format.',
  INVALID_STRING_LENGTH: 'The value of a field is either too short or too long',
  INVALID_ARRAY_MIN_ITEMS: 'The number of items in an array parameter is too small.',
  NOT_SUPPORTED: 'This field is not currently supported.',
  INVALID_RESOURCE_ID: 'Specified resource ID does not exist. Please check the resource ID and try again.',
  AMOUNT_MISMATCH:
    'Should equal item_total + tax_total + shipping + handling + insurance - shipping_discount - discount.',
  ITEM_TOTAL_MISMATCH: 'Should equal sum of (unit_amount * quantity) across all items for a given purchase_unit.',
  ITEM_TOTAL_REQUIRED:
    'If item details are specified (items.unit_amount and items.quantity) corresponding amount.breakdown.item_total is required.',
  TAX_TOTAL_MISMATCH: 'Should equal sum of (tax * quantity) across all items for a given purchase_unit.',
  TAX_TOTAL_REQUIRED:
    'If item details are specified (items.tax_total and items.quantity) corresponding amount.breakdown.tax_total is required.',
  CANNOT_BE_NEGATIVE:
    'Must be greater than or equal to 0. If the currency supports decimals, only two decimal place precision is supported.',
  CANNOT_BE_ZERO_OR_NEGATIVE:
    'Must be greater than zero. If the currency supports decimals, only two decimal place precision is supported.',
  DECIMAL_PRECISION: 'If the currency supports decimals, only two decimal place precision is supported.',
  DECIMALS_NOT_SUPPORTED: 'Currency does not support decimals.',
  INVALID_CURRENCY_CODE:
    'Currency code is invalid or is not currently supported. Please refer https://developer.paypal.com/api/rest/reference/currency-codes/ for list of supported currency codes.',
  MULTI_CURRENCY_ORDER:
    'Multiple differing values of currency_code are not supported. Entire Order request must have the same currency_code.',
  ORDER_NOT_APPROVED:
    "Payer has not yet approved the Order for payment. Please redirect the payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create Order call or provide a valid `payment_source` in the request.",
  ORDER_ALREADY_CAPTURED: "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
  INSTRUMENT_DECLINED:
    "The instrument presented  was either declined by the processor or bank, or it can't be used for this payment.",
  DUPLICATE_INVOICE_ID:
    'Duplicate Invoice ID detected. To avoid a potential duplicate transaction your account setting requires that Invoice Id be unique for each transaction.',
  CAPTURE_FULLY_REFUNDED: 'The capture has already been fully refunded',
  REFUND_AMOUNT_EXCEEDED:
    'The refund amount must be less than or equal to the capture amount that has not yet been refunded.',
  REFUND_CAPTURE_CURRENCY_MISMATCH: 'Refund must be in the same currency as the capture',
} as const;
type Issue = keyof typeof ISSUES;

// ─── Records ────────────────────────────────────────────────────────────────────────────────────

/** An amount in minor units (cents), so sums are exact. */
interface Amount {
  currency: string;
  minor: bigint;
}

interface ExperienceContext {
  return_url?: string;
  cancel_url?: string;
  brand_name?: string;
  locale?: string;
  user_action?: string;
  shipping_preference?: string;
}

/** The purchase unit as the API caller sent it (validated), to echo it back. */
interface PurchaseUnitInput {
  reference_id: string;
  amount: Record<string, unknown>;
  description?: string;
  custom_id?: string;
  invoice_id?: string;
  soft_descriptor?: string;
  items?: unknown[];
}

interface OrderInput {
  unit: PurchaseUnitInput;
  total: Amount;
  /** `payer-action`: payment_source.paypal was used (PAYER_ACTION_REQUIRED); `approve`: application_context or nothing (CREATED). */
  flow: 'payer-action' | 'approve';
  context: ExperienceContext;
}

interface RefundRecord {
  id: string;
  amount: Amount;
  status: 'COMPLETED';
  invoice_id?: string;
  note_to_payer?: string;
  createTime: string;
}

interface CaptureRecord {
  id: string;
  orderId: string;
  amount: Amount;
  fee: Amount;
  createTime: string;
  updateTime: string;
  refunds: RefundRecord[];
}

interface OrderRecord extends OrderInput {
  id: string;
  clientId: string;
  status: StandInOrderStatus;
  payerId?: string;
  capture?: CaptureRecord;
  createTime: string;
  updateTime: string;
}

interface WebhookRecord {
  id: string;
  clientId: string;
  url: string;
  eventTypes: string[];
}

/** What was sent with one transmission, for verify-webhook-signature. */
interface TransmissionRecord {
  clientId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  resourceId: string;
  time: string;
  sig: string;
  certUrl: string;
}

interface WebhookEvent {
  id: string;
  event_version: '1.0';
  create_time: string;
  resource_type: string;
  resource_version: '2.0';
  event_type: string;
  summary: string;
  resource: Record<string, unknown> & { id: string };
  links: Link[];
}

interface Link {
  href: string;
  rel: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
}

// ─── HTTP plumbing ──────────────────────────────────────────────────────────────────────────────

/** An answer before it is written: JSON, an HTML page, a redirect or nothing (204). */
interface Reply {
  status: number;
  json?: unknown;
  html?: string;
  location?: string;
}

/** Which error shape a route answers with: v2 (Orders, Payments), v1 (Webhooks) or OAuth. */
type Family = 'orders' | 'payments' | 'webhooks' | 'oauth';

interface Context {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  family: Family;
  /** The REST app behind the bearer token ('' on routes without one). */
  clientId: string;
}

interface Route {
  method: string;
  pattern: RegExp;
  family: Family;
  /**
   * `bearer`: needs a token from /v1/oauth2/token; `public`: the token call itself; `page`: the
   * payer's browser, which the API switches (down, timeoutMs) leave alone.
   */
  access: 'bearer' | 'public' | 'page';
  handle: (ctx: Context) => Reply | Promise<Reply>;
}

/** `route('POST /v2/checkout/orders/:id/capture', …)`: each `:name` matches one path segment. */
function route(spec: string, family: Family, handle: Route['handle'], access: Route['access'] = 'bearer'): Route {
  const [method = 'GET', path = '/'] = spec.split(' ');
  const pattern = new RegExp(`^${path.replace(/:\w+/g, '([^/]+)')}$`);
  return { method, pattern, family, access, handle };
}

/** An expected failure, already shaped as PayPal answers it. Thrown to leave a handler early. */
class ApiError extends Error {
  constructor(readonly reply: Reply) {
    super(`PayPal stand-in answer ${reply.status}`);
  }
}

interface Detail {
  field?: string;
  value?: string;
  location?: 'body' | 'path' | 'header';
  issue: string;
  description: string;
}

/** A REST error body; `debug_id` is added when it is sent. */
function restError(status: number, name: string, message: string, family: Family, details: Detail[] = []): ApiError {
  const issue = details[0]?.issue ?? name;
  if (family === 'webhooks') {
    return new ApiError({
      status,
      json: {
        name,
        message,
        information_link: `https://developer.paypal.com/docs/api/webhooks/v1/#error-${name}`,
        ...(details.length ? { details } : {}),
        links: [],
      },
    });
  }
  const api = family === 'payments' ? 'payments' : 'orders';
  return new ApiError({
    status,
    json: {
      name,
      message,
      ...(details.length ? { details } : {}),
      links: [
        {
          href: `https://developer.paypal.com/docs/api/${api}/v2/#error-${issue}`,
          rel: 'information_link',
          method: 'GET',
        },
      ],
    },
  });
}

function detail(issue: Issue, field?: string, value?: unknown, location: Detail['location'] = 'body'): Detail {
  return {
    ...(field !== undefined ? { field } : {}),
    ...(typeof value === 'string' || typeof value === 'number' ? { value: String(value) } : {}),
    ...(field !== undefined ? { location } : {}),
    issue,
    description: ISSUES[issue],
  };
}

function invalidRequest(family: Family, details: Detail[]): ApiError {
  return restError(400, 'INVALID_REQUEST', MESSAGES.INVALID_REQUEST, family, details);
}

function unprocessable(family: Family, details: Detail[]): ApiError {
  return restError(422, 'UNPROCESSABLE_ENTITY', MESSAGES.UNPROCESSABLE_ENTITY, family, details);
}

/** Webhooks v1 reports schema problems as VALIDATION_ERROR, with the problem in `issue`. */
function validationError(problems: Array<[field: string, issue: string]>): ApiError {
  const details = problems.map(([field, issue]) => ({ field, location: 'body' as const, issue, description: issue }));
  return restError(400, 'VALIDATION_ERROR', 'Invalid request - see details', 'webhooks', details);
}

function notFound(family: Family, field?: string, value?: string): ApiError {
  if (family === 'webhooks')
    return restError(404, 'INVALID_RESOURCE_ID', 'Requested resource ID was not found.', family);
  const details = field ? [detail('INVALID_RESOURCE_ID', field, value, 'path')] : [];
  return restError(404, 'RESOURCE_NOT_FOUND', MESSAGES.RESOURCE_NOT_FOUND, family, details);
}

function oauthError(status: number, error: string, description: string): ApiError {
  return new ApiError({ status, json: { error, error_description: description } });
}

function authenticationFailure(): ApiError {
  return new ApiError({
    status: 401,
    json: {
      name: 'AUTHENTICATION_FAILURE',
      message: MESSAGES.AUTHENTICATION_FAILURE,
      links: [{ href: 'https://developer.paypal.com/docs/api/overview/#error', rel: 'information_link' }],
    },
  });
}

/** Reads a request body, refusing more than 1 MiB with 413. */
async function readBody(req: http.IncomingMessage, family: Family): Promise<string> {
  const tooLarge = (): ApiError =>
    family === 'oauth'
      ? oauthError(413, 'invalid_request', 'Request entity too large')
      : restError(413, 'REQUEST_ENTITY_TOO_LARGE', 'The request body exceeds 1 MiB.', family);
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep draining, so the answer is read by a client that is still sending.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) throw tooLarge();
  return Buffer.concat(chunks).toString('utf8');
}

/** The body of a JSON call: PayPal wants `Content-Type: application/json` even for an empty body. */
function jsonBody(ctx: Context): unknown {
  const type = ctx.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw restError(415, 'UNSUPPORTED_MEDIA_TYPE', MESSAGES.UNSUPPORTED_MEDIA_TYPE, ctx.family);
  }
  if (ctx.body.trim() === '') return {};
  try {
    return JSON.parse(ctx.body) as unknown;
  } catch {
    throw invalidRequest(ctx.family, [detail('MALFORMED_REQUEST_JSON')]);
  }
}

function header(ctx: Context, name: string): string | undefined {
  const value = ctx.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function wantsRepresentation(ctx: Context): boolean {
  return /return=representation/i.test(header(ctx, 'prefer') ?? '');
}

// ─── Small helpers ──────────────────────────────────────────────────────────────────────────────

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** An id like PayPal's: 17 upper-case letters and digits for orders, captures, refunds, webhooks. */
function paypalId(length = 17): string {
  let id = '';
  for (const byte of randomBytes(length)) id += ALPHANUMERIC.charAt(byte % ALPHANUMERIC.length);
  return id;
}

/** A stable id for a client id (its app id and merchant id stay the same for the stand-in's lifetime). */
function derivedId(seed: string, length: number): string {
  let id = '';
  for (const byte of createHash('sha256').update(seed).digest().subarray(0, length)) {
    id += ALPHANUMERIC.charAt(byte % ALPHANUMERIC.length);
  }
  return id;
}

function now(): string {
  // PayPal writes times without milliseconds: 2024-05-01T10:00:00Z.
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function decimals(currency: string): number {
  return ZERO_DECIMAL_CURRENCIES.has(currency) ? 0 : 2;
}

function formatAmount(amount: Amount): string {
  const places = decimals(amount.currency);
  const digits = (amount.minor < 0n ? -amount.minor : amount.minor).toString().padStart(places + 1, '0');
  const sign = amount.minor < 0n ? '-' : '';
  return places ? `${sign}${digits.slice(0, -places)}.${digits.slice(-places)}` : `${sign}${digits}`;
}

function money(amount: Amount): Money {
  return { currency_code: amount.currency, value: formatAmount(amount) };
}

/** PayPal's standard German rate for illustration: 2.49 % + 0.35. */
function paypalFee(gross: Amount): Amount {
  const fixed = decimals(gross.currency) ? 35n : 0n;
  return { currency: gross.currency, minor: (gross.minor * 249n + 5_000n) / 10_000n + fixed };
}

/** A path segment as written, when it is not valid percent-encoding (it then matches nothing). */
function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Only http(s) URLs: they end up in a redirect and a link on the approval page. */
function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function withQuery(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

// ─── Order request validation ───────────────────────────────────────────────────────────────────

/** Collects what is wrong with a request: schema problems (400) first, business rules (422) after. */
class Findings {
  readonly invalid: Detail[] = [];
  readonly unprocessable: Detail[] = [];

  bad(issue: Issue, field: string, value?: unknown): void {
    this.invalid.push(detail(issue, field, value));
  }

  refuse(issue: Issue, field: string, value?: unknown): void {
    this.unprocessable.push(detail(issue, field, value));
  }

  /** The stand-in's own limits, told apart from PayPal's rules by their description. */
  unsupported(field: string, description: string): void {
    this.invalid.push({ field, location: 'body', issue: 'NOT_SUPPORTED', description });
  }

  throwIfAny(family: Family): void {
    if (this.invalid.length) throw invalidRequest(family, this.invalid);
    if (this.unprocessable.length) throw unprocessable(family, this.unprocessable);
  }

  /** Stops here: a check found something it could not read further. */
  fail(family: Family): never {
    this.throwIfAny(family);
    throw new Error('PayPal stand-in: a failed check recorded no finding');
  }
}

/** An optional string field no longer than `max`. */
function optionalString(f: Findings, value: unknown, field: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    f.bad('INVALID_PARAMETER_SYNTAX', field);
    return undefined;
  }
  if (value.length < 1 || value.length > max) f.bad('INVALID_STRING_LENGTH', field, value);
  return value;
}

/**
 * A money object `{currency_code, value}`. PayPal's value pattern allows an optional sign and any
 * number of decimals; more than the currency has is a 422, not a 400.
 */
function readMoney(
  f: Findings,
  raw: unknown,
  field: string,
  rule: 'positive' | 'not-negative',
  currency?: string,
): Amount | undefined {
  if (raw === undefined) {
    f.bad('MISSING_REQUIRED_PARAMETER', field);
    return undefined;
  }
  if (!isRecord(raw)) {
    f.bad('INVALID_PARAMETER_SYNTAX', field);
    return undefined;
  }
  const code = raw.currency_code;
  const value = raw.value;
  if (code === undefined) f.bad('MISSING_REQUIRED_PARAMETER', `${field}/currency_code`);
  if (value === undefined) f.bad('MISSING_REQUIRED_PARAMETER', `${field}/value`);
  if (code === undefined || value === undefined) return undefined;
  if (typeof code !== 'string' || !/^[A-Z]{3}$/.test(code)) {
    f.refuse('INVALID_CURRENCY_CODE', `${field}/currency_code`, code);
    return undefined;
  }
  if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value) || value.length > 32) {
    f.bad('INVALID_PARAMETER_SYNTAX', `${field}/value`, value);
    return undefined;
  }
  if (currency !== undefined && code !== currency) {
    f.refuse('MULTI_CURRENCY_ORDER', `${field}/currency_code`, code);
    return undefined;
  }
  const [whole = '0', fraction = ''] = value.replace(/^-/, '').split('.');
  const places = decimals(code);
  if (fraction.length > places) {
    f.refuse(places ? 'DECIMAL_PRECISION' : 'DECIMALS_NOT_SUPPORTED', `${field}/value`, value);
    return undefined;
  }
  const minor = BigInt(whole + fraction.padEnd(places, '0')) * (value.startsWith('-') ? -1n : 1n);
  if (rule === 'positive' && minor <= 0n) f.refuse('CANNOT_BE_ZERO_OR_NEGATIVE', `${field}/value`, value);
  if (rule === 'not-negative' && minor < 0n) f.refuse('CANNOT_BE_NEGATIVE', `${field}/value`, value);
  return { currency: code, minor };
}

const BREAKDOWN_PARTS = [
  'item_total',
  'tax_total',
  'shipping',
  'handling',
  'insurance',
  'shipping_discount',
  'discount',
];

/** Checks a breakdown and the items against the amount, the way PayPal adds them up. */
function checkBreakdown(f: Findings, amount: Record<string, unknown>, items: unknown, total: Amount, at: string): void {
  const raw = amount.breakdown;
  const parts = new Map<string, bigint>();
  if (raw !== undefined) {
    if (!isRecord(raw)) {
      f.bad('INVALID_PARAMETER_SYNTAX', `${at}/amount/breakdown`);
      return;
    }
    for (const part of BREAKDOWN_PARTS) {
      if (raw[part] === undefined) continue;
      const value = readMoney(f, raw[part], `${at}/amount/breakdown/${part}`, 'not-negative', total.currency);
      if (value) parts.set(part, value.minor);
    }
  }

  let itemTotal = 0n;
  let taxTotal = 0n;
  let anyTax = false;
  if (items !== undefined) {
    if (!Array.isArray(items)) {
      f.bad('INVALID_PARAMETER_SYNTAX', `${at}/items`);
      return;
    }
    const list: unknown[] = items;
    for (const [i, item] of list.entries()) {
      const path = `${at}/items/${i}`;
      if (!isRecord(item)) {
        f.bad('INVALID_PARAMETER_SYNTAX', path);
        continue;
      }
      if (item.name === undefined) f.bad('MISSING_REQUIRED_PARAMETER', `${path}/name`);
      else optionalString(f, item.name, `${path}/name`, 127);
      const quantity = item.quantity;
      if (quantity === undefined) f.bad('MISSING_REQUIRED_PARAMETER', `${path}/quantity`);
      else if (typeof quantity !== 'string' || !/^\d{1,10}$/.test(quantity)) {
        f.bad('INVALID_PARAMETER_SYNTAX', `${path}/quantity`, quantity);
      }
      const count = typeof quantity === 'string' && /^\d{1,10}$/.test(quantity) ? BigInt(quantity) : 0n;
      const unit = readMoney(f, item.unit_amount, `${path}/unit_amount`, 'not-negative', total.currency);
      if (unit) itemTotal += unit.minor * count;
      if (item.tax !== undefined) {
        anyTax = true;
        const tax = readMoney(f, item.tax, `${path}/tax`, 'not-negative', total.currency);
        if (tax) taxTotal += tax.minor * count;
      }
    }
  }
  // Sums only make sense on a request that is well-formed.
  if (f.invalid.length || f.unprocessable.length) return;

  if (Array.isArray(items) && items.length) {
    const declared = parts.get('item_total');
    if (declared === undefined) f.refuse('ITEM_TOTAL_REQUIRED', `${at}/amount/breakdown/item_total`);
    else if (declared !== itemTotal) {
      f.refuse('ITEM_TOTAL_MISMATCH', `${at}/amount/breakdown/item_total`, formatAmount({ ...total, minor: declared }));
    }
    const declaredTax = parts.get('tax_total');
    if (anyTax && declaredTax === undefined) f.refuse('TAX_TOTAL_REQUIRED', `${at}/amount/breakdown/tax_total`);
    else if (anyTax && declaredTax !== taxTotal) {
      f.refuse(
        'TAX_TOTAL_MISMATCH',
        `${at}/amount/breakdown/tax_total`,
        formatAmount({ ...total, minor: declaredTax ?? 0n }),
      );
    }
  }
  if (parts.size) {
    const plus = ['item_total', 'tax_total', 'shipping', 'handling', 'insurance'];
    let sum = 0n;
    for (const [part, minor] of parts) sum += plus.includes(part) ? minor : -minor;
    if (sum !== total.minor) f.refuse('AMOUNT_MISMATCH', `${at}/amount/value`, formatAmount(total));
  }
}

/** Reads `payment_source.paypal.experience_context` or the older `application_context`. */
function readContext(
  f: Findings,
  body: Record<string, unknown>,
): { flow: OrderInput['flow']; context: ExperienceContext } {
  let flow: OrderInput['flow'] = 'approve';
  let raw: unknown = body.application_context;
  let at = '/application_context';
  if (body.payment_source !== undefined) {
    const source = body.payment_source;
    if (!isRecord(source)) f.bad('INVALID_PARAMETER_SYNTAX', '/payment_source');
    else if (!isRecord(source.paypal) || Object.keys(source).length !== 1) {
      f.unsupported('/payment_source', 'The PayPal stand-in supports payment_source.paypal only.');
    } else {
      flow = 'payer-action';
      raw = source.paypal.experience_context;
      at = '/payment_source/paypal/experience_context';
    }
  }
  const context: ExperienceContext = {};
  if (raw === undefined) return { flow, context };
  if (!isRecord(raw)) {
    f.bad('INVALID_PARAMETER_SYNTAX', at);
    return { flow, context };
  }
  for (const key of ['return_url', 'cancel_url'] as const) {
    const url = optionalString(f, raw[key], `${at}/${key}`, 4000);
    if (url === undefined) continue;
    if (isWebUrl(url)) context[key] = url;
    else f.bad('INVALID_PARAMETER_SYNTAX', `${at}/${key}`, url);
  }
  const brand = optionalString(f, raw.brand_name, `${at}/brand_name`, 127);
  if (brand !== undefined) context.brand_name = brand;
  const locale = optionalString(f, raw.locale, `${at}/locale`, 10);
  if (locale !== undefined) context.locale = locale;
  const userAction = raw.user_action;
  if (userAction !== undefined && userAction !== 'CONTINUE' && userAction !== 'PAY_NOW') {
    f.bad('INVALID_PARAMETER_VALUE', `${at}/user_action`, userAction);
  } else if (userAction !== undefined) context.user_action = userAction;
  const shipping = raw.shipping_preference;
  if (shipping !== undefined && !['GET_FROM_FILE', 'NO_SHIPPING', 'SET_PROVIDED_ADDRESS'].includes(String(shipping))) {
    f.bad('INVALID_PARAMETER_VALUE', `${at}/shipping_preference`, shipping);
  } else if (typeof shipping === 'string') context.shipping_preference = shipping;
  return { flow, context };
}

/** Validates a create-order request like PayPal does, or throws its 400/422 answer. */
function readOrderRequest(body: unknown): OrderInput {
  const f = new Findings();
  if (!isRecord(body)) {
    f.bad('INVALID_PARAMETER_SYNTAX', '/');
    return f.fail('orders');
  }
  const intent = body.intent;
  if (intent === undefined) f.bad('MISSING_REQUIRED_PARAMETER', '/intent');
  else if (intent === 'AUTHORIZE') f.unsupported('/intent', 'The PayPal stand-in supports intent CAPTURE only.');
  else if (intent !== 'CAPTURE') f.bad('INVALID_PARAMETER_VALUE', '/intent', intent);

  const units = body.purchase_units;
  let rawUnit: unknown;
  if (units === undefined) f.bad('MISSING_REQUIRED_PARAMETER', '/purchase_units');
  else if (!Array.isArray(units)) f.bad('INVALID_PARAMETER_SYNTAX', '/purchase_units');
  else if (units.length === 0) f.bad('INVALID_ARRAY_MIN_ITEMS', '/purchase_units');
  else if (units.length > 1) f.unsupported('/purchase_units', 'The PayPal stand-in supports one purchase unit.');
  else rawUnit = units[0];

  const { flow, context } = readContext(f, body);
  if (rawUnit === undefined) return f.fail('orders');
  if (!isRecord(rawUnit)) {
    f.bad('INVALID_PARAMETER_SYNTAX', '/purchase_units/0');
    return f.fail('orders');
  }
  const reference = optionalString(f, rawUnit.reference_id, '/purchase_units/0/reference_id', 256) ?? 'default';
  const at = `/purchase_units/@reference_id=='${reference}'`;
  const unit: PurchaseUnitInput = { reference_id: reference, amount: {} };
  for (const [key, max] of [
    ['description', 127],
    ['custom_id', 127],
    ['invoice_id', 127],
    ['soft_descriptor', 22],
  ] as const) {
    const value = optionalString(f, rawUnit[key], `${at}/${key}`, max);
    if (value !== undefined) unit[key] = value;
  }
  const total = readMoney(f, rawUnit.amount, `${at}/amount`, 'positive');
  if (total && isRecord(rawUnit.amount)) {
    unit.amount = rawUnit.amount;
    checkBreakdown(f, rawUnit.amount, rawUnit.items, total, at);
    if (Array.isArray(rawUnit.items)) unit.items = rawUnit.items;
  }
  f.throwIfAny('orders');
  if (!total) return f.fail('orders');
  return { unit, total, flow, context };
}

// ─── The stand-in ───────────────────────────────────────────────────────────────────────────────

class StandIn implements PayPalStandIn {
  url = '';
  readonly switches: StandInSwitches = { decline: false, timeoutMs: 0, duplicateWebhook: false, down: false };

  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private readonly clients: ReadonlyArray<{ clientId: string; secret: string }> | undefined;
  private readonly webhookDelayMs: number;
  /** Signs deliveries; verify-webhook-signature recomputes nothing, it compares with what was sent. */
  private readonly signingKey = randomBytes(32);
  /** The sandbox buyer's payer id, the same for every order like a real account's. */
  private readonly payerId = paypalId(13);

  private readonly tokens = new Map<string, { clientId: string; expiresAt: number }>();
  private readonly orderMap = new Map<string, OrderRecord>();
  private readonly captures = new Map<string, CaptureRecord>();
  private readonly refunds = new Map<string, { refund: RefundRecord; capture: CaptureRecord }>();
  private readonly webhooks = new Map<string, WebhookRecord>();
  private readonly transmissions = new Map<string, TransmissionRecord>();
  private readonly deliveries: StandInWebhookDelivery[] = [];
  /** Answers already given per PayPal-Request-Id: `${clientId} ${method} ${path} ${id}`. */
  private readonly idempotent = new Map<string, Reply>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly outgoing = new Set<http.ClientRequest>();
  private closed = false;

  private readonly routes: Route[] = [
    route('POST /v1/oauth2/token', 'oauth', (c) => this.issueToken(c), 'public'),
    route('POST /v2/checkout/orders', 'orders', (c) => this.createOrder(c)),
    route('GET /v2/checkout/orders/:id', 'orders', (c) => this.showOrder(c)),
    route('POST /v2/checkout/orders/:id/capture', 'orders', (c) => this.captureOrder(c)),
    route('GET /v2/payments/captures/:id', 'payments', (c) => this.showCapture(c)),
    route('POST /v2/payments/captures/:id/refund', 'payments', (c) => this.refundCapture(c)),
    route('GET /v2/payments/refunds/:id', 'payments', (c) => this.showRefund(c)),
    route('POST /v1/notifications/webhooks', 'webhooks', (c) => this.createWebhook(c)),
    route('GET /v1/notifications/webhooks', 'webhooks', (c) => this.listWebhooks(c)),
    route('DELETE /v1/notifications/webhooks/:id', 'webhooks', (c) => this.deleteWebhook(c)),
    route('POST /v1/notifications/verify-webhook-signature', 'webhooks', (c) => this.verifySignature(c)),
    route('GET /checkoutnow', 'orders', (c) => this.approvalPage(c), 'page'),
    route('POST /checkoutnow/approve', 'orders', (c) => this.approveFromPage(c), 'page'),
  ];

  constructor(options: PayPalStandInOptions) {
    this.clients = options.clients;
    this.webhookDelayMs = options.webhookDelayMs ?? 50;
  }

  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  }

  orders(): ReadonlyArray<StandInOrder> {
    return [...this.orderMap.values()].map((order) => {
      const refunded = order.capture?.refunds.reduce((sum, r) => sum + r.amount.minor, 0n) ?? 0n;
      return {
        id: order.id,
        clientId: order.clientId,
        status: order.status,
        amount: money(order.total),
        ...(order.unit.custom_id !== undefined ? { custom_id: order.unit.custom_id } : {}),
        ...(order.unit.invoice_id !== undefined ? { invoice_id: order.unit.invoice_id } : {}),
        ...(order.capture ? { captureId: order.capture.id } : {}),
        refunded: formatAmount({ currency: order.total.currency, minor: refunded }),
      };
    });
  }

  webhooksSent(): ReadonlyArray<StandInWebhookDelivery> {
    return [...this.deliveries];
  }

  async approve(orderId: string): Promise<string> {
    const order = this.orderMap.get(orderId);
    if (!order) throw new Error(`PayPal stand-in: no order ${orderId}`);
    if (order.status === 'COMPLETED') throw new Error(`PayPal stand-in: order ${orderId} is already captured`);
    if (!order.context.return_url) throw new Error(`PayPal stand-in: order ${orderId} has no return_url`);
    return this.markApproved(order);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const request of this.outgoing) request.destroy();
    this.outgoing.clear();
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await stopped;
  }

  // ─── Request handling ─────────────────────────────────────────────────────────────────────────

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    const found = this.match(method, url.pathname);
    const isPage = found?.route.access === 'page';
    if (this.switches.down && !isPage) {
      req.socket.destroy();
      return;
    }
    const family = found?.route.family ?? 'orders';
    let reply: Reply;
    try {
      const body = await readBody(req, family);
      if (!found) throw notFound(family);
      const ctx: Context = {
        method,
        path: url.pathname,
        params: found.params,
        query: url.searchParams,
        headers: req.headers,
        body,
        family,
        clientId: '',
      };
      if (found.route.access === 'bearer') ctx.clientId = this.authenticate(ctx);
      reply = await found.route.handle(ctx);
    } catch (err) {
      if (err instanceof ApiError) {
        reply = err.reply;
      } else if (req.destroyed) {
        return; // the client went away in the middle of its request: nobody to answer
      } else {
        console.error('PayPal stand-in: unexpected error', err);
        reply = restError(500, 'INTERNAL_SERVER_ERROR', MESSAGES.INTERNAL_SERVER_ERROR, family).reply;
      }
    }
    if (!isPage && this.switches.timeoutMs > 0) await this.sleep(this.switches.timeoutMs);
    if (!this.closed) send(res, reply);
  }

  /** The one router: the route for a method and path, and its `:id` parameters decoded. */
  private match(method: string, path: string): { route: Route; params: string[] } | undefined {
    for (const route of this.routes) {
      const found = route.method === method ? route.pattern.exec(path) : null;
      if (found) return { route, params: found.slice(1).map(decodePathPart) };
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /** The client id behind a valid, unexpired bearer token, or 401. */
  private authenticate(ctx: Context): string {
    const match = /^Bearer\s+(\S+)$/i.exec(header(ctx, 'authorization') ?? '');
    const token = match?.[1] ? this.tokens.get(match[1]) : undefined;
    if (!token || token.expiresAt <= Date.now()) throw authenticationFailure();
    return token.clientId;
  }

  /** A repeated PayPal-Request-Id gets the first successful answer again, with 200 as PayPal sends. */
  private replay(ctx: Context): Reply | undefined {
    const key = this.idempotencyKey(ctx);
    const first = key ? this.idempotent.get(key) : undefined;
    return first ? { ...first, status: 200 } : undefined;
  }

  private remember(ctx: Context, reply: Reply): Reply {
    const key = this.idempotencyKey(ctx);
    if (key) this.idempotent.set(key, reply);
    return reply;
  }

  private idempotencyKey(ctx: Context): string | undefined {
    const id = header(ctx, 'paypal-request-id');
    return id ? `${ctx.clientId} ${ctx.method} ${ctx.path} ${id}` : undefined;
  }

  // ─── OAuth2 ───────────────────────────────────────────────────────────────────────────────────

  private issueToken(ctx: Context): Reply {
    const match = /^Basic\s+(\S+)$/i.exec(header(ctx, 'authorization') ?? '');
    const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const clientId = colon > 0 ? decoded.slice(0, colon) : '';
    const secret = colon > 0 ? decoded.slice(colon + 1) : '';
    if (!this.knowsClient(clientId, secret)) throw oauthError(401, 'invalid_client', 'Client Authentication failed');
    const grant = new URLSearchParams(ctx.body).get('grant_type');
    if (!grant) throw oauthError(400, 'unsupported_grant_type', 'Grant Type is NULL');
    if (grant !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type', 'unsupported grant_type');

    const token = `A21AA${randomBytes(60).toString('base64url')}`;
    this.tokens.set(token, { clientId, expiresAt: Date.now() + TOKEN_LIFETIME_S * 1000 });
    return {
      status: 200,
      json: {
        scope: SCOPE,
        access_token: token,
        token_type: 'Bearer',
        app_id: `APP-${derivedId(`app:${clientId}`, 17)}`,
        expires_in: TOKEN_LIFETIME_S,
        nonce: `${now()}${randomBytes(32).toString('base64url')}`,
      },
    };
  }

  private knowsClient(clientId: string, secret: string): boolean {
    if (this.clients) return this.clients.some((c) => c.clientId === clientId && c.secret === secret);
    return clientId !== '' && secret !== '' && secret !== 'wrong';
  }

  // ─── Orders ───────────────────────────────────────────────────────────────────────────────────

  private createOrder(ctx: Context): Reply {
    const replayed = this.replay(ctx);
    if (replayed) return replayed;
    const input = readOrderRequest(jsonBody(ctx));
    const time = now();
    const order: OrderRecord = {
      ...input,
      id: paypalId(),
      clientId: ctx.clientId,
      status: input.flow === 'payer-action' ? 'PAYER_ACTION_REQUIRED' : 'CREATED',
      createTime: time,
      updateTime: time,
    };
    this.orderMap.set(order.id, order);
    const json = wantsRepresentation(ctx) ? this.orderJson(order) : this.minimalOrderJson(order);
    return this.remember(ctx, { status: 201, json });
  }

  private showOrder(ctx: Context): Reply {
    return { status: 200, json: this.orderJson(this.ownOrder(ctx)) };
  }

  private captureOrder(ctx: Context): Reply {
    const replayed = this.replay(ctx);
    if (replayed) return replayed;
    jsonBody(ctx); // checked like PayPal does, but a payment_source in it is not supported
    const order = this.ownOrder(ctx);
    if (order.status === 'COMPLETED') throw unprocessable('orders', [detail('ORDER_ALREADY_CAPTURED')]);
    if (order.status !== 'APPROVED') throw unprocessable('orders', [detail('ORDER_NOT_APPROVED')]);
    if (this.switches.decline) throw unprocessable('orders', [detail('INSTRUMENT_DECLINED')]);
    // PayPal's default account setting blocks a second payment for the same invoice id.
    const invoice = order.unit.invoice_id;
    const paidBefore =
      invoice !== undefined &&
      [...this.orderMap.values()].some(
        (o) =>
          o !== order && o.clientId === order.clientId && o.status === 'COMPLETED' && o.unit.invoice_id === invoice,
      );
    if (paidBefore) throw unprocessable('orders', [detail('DUPLICATE_INVOICE_ID')]);

    const time = now();
    const capture: CaptureRecord = {
      id: paypalId(),
      orderId: order.id,
      amount: order.total,
      fee: paypalFee(order.total),
      createTime: time,
      updateTime: time,
      refunds: [],
    };
    this.captures.set(capture.id, capture);
    order.capture = capture;
    order.status = 'COMPLETED';
    order.updateTime = time;
    this.emit(
      order.clientId,
      'PAYMENT.CAPTURE.COMPLETED',
      'capture',
      `Payment completed for ${formatAmount(capture.amount)} ${capture.amount.currency}`,
      {
        ...this.captureJson(order, capture),
        supplementary_data: { related_ids: { order_id: order.id } },
      },
    );
    const json = wantsRepresentation(ctx) ? this.orderJson(order) : this.capturedOrderJson(order);
    return this.remember(ctx, { status: 201, json });
  }

  /** The caller's own order, or 404 (another app's order does not exist for it). */
  private ownOrder(ctx: Context): OrderRecord {
    const id = ctx.params[0] ?? '';
    const order = this.orderMap.get(id);
    if (!order || order.clientId !== ctx.clientId) throw notFound('orders', 'order_id', id);
    return order;
  }

  private orderLinks(order: OrderRecord): Link[] {
    const self = `${this.url}/v2/checkout/orders/${order.id}`;
    const checkout = `${this.url}/checkoutnow?token=${order.id}`;
    const links: Link[] = [{ href: self, rel: 'self', method: 'GET' }];
    switch (order.status) {
      case 'PAYER_ACTION_REQUIRED':
        links.push({ href: checkout, rel: 'payer-action', method: 'GET' });
        break;
      case 'CREATED':
        links.push(
          { href: checkout, rel: 'approve', method: 'GET' },
          { href: self, rel: 'update', method: 'PATCH' },
          { href: `${self}/capture`, rel: 'capture', method: 'POST' },
        );
        break;
      case 'APPROVED':
        links.push(
          { href: self, rel: 'update', method: 'PATCH' },
          { href: `${self}/capture`, rel: 'capture', method: 'POST' },
        );
        break;
      case 'COMPLETED':
        break;
    }
    return links;
  }

  private payer(): Record<string, unknown> {
    return { ...BUYER, payer_id: this.payerId };
  }

  private paymentSource(order: OrderRecord): Record<string, unknown> {
    if (!order.payerId) return order.flow === 'payer-action' ? { payment_source: { paypal: {} } } : {};
    return {
      payment_source: {
        paypal: {
          email_address: BUYER.email_address,
          account_id: order.payerId,
          account_status: 'VERIFIED',
          name: BUYER.name,
          address: BUYER.address,
        },
      },
    };
  }

  private minimalOrderJson(order: OrderRecord): Record<string, unknown> {
    return { id: order.id, status: order.status, ...this.paymentSource(order), links: this.orderLinks(order) };
  }

  private orderJson(order: OrderRecord): Record<string, unknown> & { id: string } {
    const capture = order.capture;
    return {
      id: order.id,
      intent: 'CAPTURE',
      status: order.status,
      ...this.paymentSource(order),
      purchase_units: [
        {
          ...order.unit,
          amount: { ...order.unit.amount, value: formatAmount(order.total) },
          payee: this.payee(order.clientId),
          ...(capture ? { payments: { captures: [this.captureJson(order, capture)] } } : {}),
        },
      ],
      ...(order.payerId ? { payer: this.payer() } : {}),
      create_time: order.createTime,
      update_time: order.updateTime,
      links: this.orderLinks(order),
    };
  }

  /** What a capture answers without `Prefer: return=representation`: the capture and the payer. */
  private capturedOrderJson(order: OrderRecord): Record<string, unknown> {
    const capture = order.capture;
    return {
      id: order.id,
      status: order.status,
      ...this.paymentSource(order),
      purchase_units: [
        {
          reference_id: order.unit.reference_id,
          ...(capture ? { payments: { captures: [this.captureJson(order, capture)] } } : {}),
        },
      ],
      payer: this.payer(),
      links: this.orderLinks(order),
    };
  }

  private payee(clientId: string): Record<string, unknown> {
    return { email_address: 'sb-merchant@business.example.com', merchant_id: derivedId(`merchant:${clientId}`, 13) };
  }

  // ─── Payments: captures and refunds ───────────────────────────────────────────────────────────

  private captureJson(order: OrderRecord, capture: CaptureRecord): Record<string, unknown> & { id: string } {
    const refunded = capture.refunds.reduce((sum, r) => sum + r.amount.minor, 0n);
    const status = refunded === 0n ? 'COMPLETED' : refunded < capture.amount.minor ? 'PARTIALLY_REFUNDED' : 'REFUNDED';
    const self = `${this.url}/v2/payments/captures/${capture.id}`;
    return {
      id: capture.id,
      status,
      amount: money(capture.amount),
      final_capture: true,
      disbursement_mode: 'INSTANT',
      seller_protection: { status: 'ELIGIBLE', dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'] },
      seller_receivable_breakdown: {
        gross_amount: money(capture.amount),
        paypal_fee: money(capture.fee),
        net_amount: money({ currency: capture.amount.currency, minor: capture.amount.minor - capture.fee.minor }),
      },
      ...(order.unit.custom_id !== undefined ? { custom_id: order.unit.custom_id } : {}),
      ...(order.unit.invoice_id !== undefined ? { invoice_id: order.unit.invoice_id } : {}),
      links: [
        { href: self, rel: 'self', method: 'GET' },
        { href: `${self}/refund`, rel: 'refund', method: 'POST' },
        { href: `${this.url}/v2/checkout/orders/${order.id}`, rel: 'up', method: 'GET' },
      ],
      create_time: capture.createTime,
      update_time: capture.updateTime,
    };
  }

  /** The caller's own capture, or 404. */
  private ownCapture(ctx: Context): { order: OrderRecord; capture: CaptureRecord } {
    const id = ctx.params[0] ?? '';
    const capture = this.captures.get(id);
    const order = capture ? this.orderMap.get(capture.orderId) : undefined;
    if (!capture || !order || order.clientId !== ctx.clientId) throw notFound('payments', 'capture_id', id);
    return { order, capture };
  }

  private showCapture(ctx: Context): Reply {
    const { order, capture } = this.ownCapture(ctx);
    return { status: 200, json: this.captureJson(order, capture) };
  }

  private refundCapture(ctx: Context): Reply {
    const replayed = this.replay(ctx);
    if (replayed) return replayed;
    const body = jsonBody(ctx);
    const { order, capture } = this.ownCapture(ctx);
    const f = new Findings();
    if (!isRecord(body)) f.bad('INVALID_PARAMETER_SYNTAX', '/');
    const request = isRecord(body) ? body : {};
    const invoiceId = optionalString(f, request.invoice_id, '/invoice_id', 127);
    const note = optionalString(f, request.note_to_payer, '/note_to_payer', 255);
    const asked = request.amount === undefined ? undefined : readMoney(f, request.amount, '/amount', 'positive');
    f.throwIfAny('payments');

    const left = capture.amount.minor - capture.refunds.reduce((sum, r) => sum + r.amount.minor, 0n);
    if (left <= 0n) throw unprocessable('payments', [detail('CAPTURE_FULLY_REFUNDED')]);
    if (asked && asked.currency !== capture.amount.currency) {
      throw unprocessable('payments', [
        detail('REFUND_CAPTURE_CURRENCY_MISMATCH', '/amount/currency_code', asked.currency),
      ]);
    }
    if (asked && asked.minor > left) {
      throw unprocessable('payments', [detail('REFUND_AMOUNT_EXCEEDED', '/amount/value', formatAmount(asked))]);
    }
    const refund: RefundRecord = {
      id: paypalId(),
      amount: asked ?? { currency: capture.amount.currency, minor: left },
      status: 'COMPLETED',
      ...(invoiceId !== undefined ? { invoice_id: invoiceId } : {}),
      ...(note !== undefined ? { note_to_payer: note } : {}),
      createTime: now(),
    };
    capture.refunds.push(refund);
    capture.updateTime = refund.createTime;
    order.updateTime = refund.createTime;
    this.refunds.set(refund.id, { refund, capture });
    this.emit(
      order.clientId,
      'PAYMENT.CAPTURE.REFUNDED',
      'refund',
      `A ${formatAmount(refund.amount)} ${refund.amount.currency} capture payment was refunded`,
      this.refundJson(refund, capture),
    );
    const json = wantsRepresentation(ctx)
      ? this.refundJson(refund, capture)
      : { id: refund.id, status: refund.status, links: this.refundLinks(refund, capture) };
    return this.remember(ctx, { status: 201, json });
  }

  private showRefund(ctx: Context): Reply {
    const id = ctx.params[0] ?? '';
    const found = this.refunds.get(id);
    const order = found ? this.orderMap.get(found.capture.orderId) : undefined;
    if (!found || !order || order.clientId !== ctx.clientId) throw notFound('payments', 'refund_id', id);
    return { status: 200, json: this.refundJson(found.refund, found.capture) };
  }

  private refundLinks(refund: RefundRecord, capture: CaptureRecord): Link[] {
    return [
      { href: `${this.url}/v2/payments/refunds/${refund.id}`, rel: 'self', method: 'GET' },
      { href: `${this.url}/v2/payments/captures/${capture.id}`, rel: 'up', method: 'GET' },
    ];
  }

  private refundJson(refund: RefundRecord, capture: CaptureRecord): Record<string, unknown> & { id: string } {
    const total = capture.refunds
      .slice(0, capture.refunds.indexOf(refund) + 1)
      .reduce((sum, r) => sum + r.amount.minor, 0n);
    return {
      id: refund.id,
      amount: money(refund.amount),
      seller_payable_breakdown: {
        gross_amount: money(refund.amount),
        paypal_fee: money({ currency: refund.amount.currency, minor: 0n }),
        net_amount: money(refund.amount),
        total_refunded_amount: money({ currency: refund.amount.currency, minor: total }),
      },
      ...(refund.invoice_id !== undefined ? { invoice_id: refund.invoice_id } : {}),
      ...(refund.note_to_payer !== undefined ? { note_to_payer: refund.note_to_payer } : {}),
      status: refund.status,
      create_time: refund.createTime,
      update_time: refund.createTime,
      links: this.refundLinks(refund, capture),
    };
  }

  // ─── Webhooks ─────────────────────────────────────────────────────────────────────────────────

  private webhookJson(webhook: WebhookRecord): Record<string, unknown> {
    const self = `${this.url}/v1/notifications/webhooks/${webhook.id}`;
    return {
      id: webhook.id,
      url: webhook.url,
      event_types: webhook.eventTypes.map((name) => ({
        name,
        description: name === '*' ? 'ALL' : `Stand-in event ${name}`,
        status: 'ENABLED',
      })),
      links: [
        { href: self, rel: 'self', method: 'GET' },
        { href: self, rel: 'update', method: 'PATCH' },
        { href: self, rel: 'delete', method: 'DELETE' },
      ],
    };
  }

  /**
   * Registers a webhook. Unlike PayPal, plain http and localhost URLs are accepted (PayPal wants a
   * public https URL on port 443), so tests can listen on 127.0.0.1.
   */
  private createWebhook(ctx: Context): Reply {
    const body = jsonBody(ctx);
    const request = isRecord(body) ? body : {};
    const problems: Array<[string, string]> = [];
    const url = request.url;
    const types = request.event_types;
    if (typeof url !== 'string' || url === '') problems.push(['url', 'Required field is missing.']);
    else if (!isWebUrl(url) || url.length > 2048) problems.push(['url', 'Invalid URL.']);
    const names = Array.isArray(types) ? types.map((t: unknown) => (isRecord(t) ? t.name : undefined)) : [];
    if (names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
      problems.push(['event_types', 'Required field is missing.']);
    }
    if (problems.length) throw validationError(problems);
    const mine = [...this.webhooks.values()].filter((w) => w.clientId === ctx.clientId);
    if (mine.some((w) => w.url === url)) {
      throw restError(400, 'WEBHOOK_URL_ALREADY_EXISTS', 'Webhook URL already exists.', 'webhooks');
    }
    if (mine.length >= MAX_WEBHOOKS_PER_APP) {
      throw restError(400, 'WEBHOOK_NUMBER_LIMIT_EXCEEDED', "The webhook's number limit has exceeded.", 'webhooks');
    }
    const webhook: WebhookRecord = {
      id: paypalId(),
      clientId: ctx.clientId,
      url: String(url),
      eventTypes: names.map(String),
    };
    this.webhooks.set(webhook.id, webhook);
    return { status: 201, json: this.webhookJson(webhook) };
  }

  private listWebhooks(ctx: Context): Reply {
    const mine = [...this.webhooks.values()].filter((w) => w.clientId === ctx.clientId);
    return { status: 200, json: { webhooks: mine.map((w) => this.webhookJson(w)) } };
  }

  private deleteWebhook(ctx: Context): Reply {
    const webhook = this.webhooks.get(ctx.params[0] ?? '');
    if (!webhook || webhook.clientId !== ctx.clientId) throw notFound('webhooks');
    this.webhooks.delete(webhook.id);
    return { status: 204 };
  }

  /**
   * SUCCESS only for a transmission this stand-in sent to that webhook of the caller's app, with
   * the same headers and the same event (id, type and resource id).
   */
  private verifySignature(ctx: Context): Reply {
    const body = jsonBody(ctx);
    const request = isRecord(body) ? body : {};
    const fields = ['auth_algo', 'cert_url', 'transmission_id', 'transmission_sig', 'transmission_time', 'webhook_id'];
    const problems: Array<[string, string]> = fields
      .filter((field) => typeof request[field] !== 'string' || request[field] === '')
      .map((field) => [field, 'Required field is missing.']);
    const event = request.webhook_event;
    if (!isRecord(event)) problems.push(['webhook_event', 'Required field is missing.']);
    if (problems.length || !isRecord(event)) throw validationError(problems);
    const sent = this.transmissions.get(String(request.transmission_id));
    const resource = isRecord(event.resource) ? event.resource : {};
    const genuine =
      sent !== undefined &&
      sent.clientId === ctx.clientId &&
      sent.webhookId === request.webhook_id &&
      sent.sig === request.transmission_sig &&
      sent.time === request.transmission_time &&
      sent.certUrl === request.cert_url &&
      request.auth_algo === AUTH_ALGO &&
      sent.eventId === event.id &&
      sent.eventType === event.event_type &&
      sent.resourceId === resource.id;
    return { status: 200, json: { verification_status: genuine ? 'SUCCESS' : 'FAILURE' } };
  }

  /**
   * Sends an event to every webhook of the app that subscribed to its type (or to `*`), after
   * `webhookDelayMs`. PayPal only notifies the app whose call caused the event. A failed delivery is
   * recorded and not retried (PayPal retries for up to three days).
   */
  private emit(
    clientId: string,
    eventType: StandInEventType,
    resourceType: string,
    summary: string,
    resource: Record<string, unknown> & { id: string },
  ): void {
    const hooks = [...this.webhooks.values()].filter(
      (w) => w.clientId === clientId && w.eventTypes.some((t) => t === '*' || t === eventType),
    );
    if (hooks.length === 0) return;
    const id = `WH-${paypalId()}-${paypalId()}`;
    const event: WebhookEvent = {
      id,
      event_version: '1.0',
      create_time: new Date().toISOString(),
      resource_type: resourceType,
      resource_version: '2.0',
      event_type: eventType,
      summary,
      resource,
      links: [
        { href: `${this.url}/v1/notifications/webhooks-events/${id}`, rel: 'self', method: 'GET' },
        { href: `${this.url}/v1/notifications/webhooks-events/${id}/resend`, rel: 'resend', method: 'POST' },
      ],
    };
    // Decided now, so a test that flips the switch right after the call still gets what it asked for.
    const copies = this.switches.duplicateWebhook ? 2 : 1;
    for (const hook of hooks) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.deliver(hook, event, copies);
      }, this.webhookDelayMs);
      this.timers.add(timer);
    }
  }

  private async deliver(hook: WebhookRecord, event: WebhookEvent, copies: number): Promise<void> {
    const body = JSON.stringify(event);
    const transmissionId = randomUUID();
    const time = new Date().toISOString();
    const certUrl = `${this.url}/v1/notifications/certs/CERT-360caa42-fca2a594-${randomBytes(4).toString('hex')}`;
    const sig = createHmac('sha256', this.signingKey)
      .update(`${transmissionId}|${time}|${hook.id}|${body}`)
      .digest('base64');
    this.transmissions.set(transmissionId, {
      clientId: hook.clientId,
      webhookId: hook.id,
      eventId: event.id,
      eventType: event.event_type,
      resourceId: event.resource.id,
      time,
      sig,
      certUrl,
    });
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'PayPal/AUHD-214.0-58826549',
      'paypal-transmission-id': transmissionId,
      'paypal-transmission-time': time,
      'paypal-transmission-sig': sig,
      'paypal-cert-url': certUrl,
      'paypal-auth-algo': AUTH_ALGO,
    };
    for (let i = 0; i < copies && !this.closed; i++) {
      const status = await this.post(hook.url, headers, body);
      if (this.closed) return;
      this.deliveries.push({ url: hook.url, eventType: event.event_type, transmissionId, status });
    }
  }

  /** One POST to a listener: its status, or 'error'. No keep-alive, so nothing lingers after close(). */
  private post(url: string, headers: Record<string, string>, body: string): Promise<number | 'error'> {
    return new Promise((resolve) => {
      const request = (url.startsWith('https:') ? https : http).request(url, {
        method: 'POST',
        agent: false,
        timeout: DELIVERY_TIMEOUT_MS,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      });
      this.outgoing.add(request);
      const done = (status: number | 'error'): void => {
        this.outgoing.delete(request);
        resolve(status);
      };
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => done(response.statusCode ?? 'error'));
        response.on('error', () => done('error'));
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => done('error'));
      request.end(body);
    });
  }

  // ─── The payer's approval page ────────────────────────────────────────────────────────────────

  /** The order behind the approval page's token, or the page that says why it cannot be paid. */
  private payable(token: string): OrderRecord {
    const order = this.orderMap.get(token);
    if (!order) {
      throw new ApiError(
        page(404, 'Bestellung nicht gefunden / Order not found', '<p>Diese Bestellung gibt es nicht.</p>'),
      );
    }
    if (order.status === 'COMPLETED') {
      const text = `<p>Bestellung ${escapeHtml(order.id)} ist bereits bezahlt. / This order is paid.</p>`;
      throw new ApiError(page(409, 'Bereits bezahlt / Already paid', text));
    }
    return order;
  }

  private approvalPage(ctx: Context): Reply {
    const order = this.payable(ctx.query.get('token') ?? '');
    const amount = `${new Intl.NumberFormat('de-DE', {
      minimumFractionDigits: decimals(order.total.currency),
      maximumFractionDigits: decimals(order.total.currency),
    }).format(Number(formatAmount(order.total)))} ${order.total.currency}`;
    const cancel = order.context.cancel_url
      ? `<a href="${escapeHtml(withQuery(order.context.cancel_url, { token: order.id }))}">Abbrechen</a>`
      : '';
    const brand = order.context.brand_name ? `<p>${escapeHtml(order.context.brand_name)}</p>` : '';
    const description = order.unit.description ? `<p>${escapeHtml(order.unit.description)}</p>` : '';
    return page(
      200,
      'PayPal (Testumgebung)',
      `<p>PayPal (Testumgebung) — Bestellung ${escapeHtml(order.id)} — ${escapeHtml(amount)}</p>
${brand}${description}<p lang="en">PayPal stand-in (test environment): no money moves.</p>
<form method="post" action="/checkoutnow/approve">
<input type="hidden" name="token" value="${escapeHtml(order.id)}">
<button type="submit">Jetzt bezahlen</button>
</form>
${cancel}`,
    );
  }

  private approveFromPage(ctx: Context): Reply {
    const order = this.payable(new URLSearchParams(ctx.body).get('token') ?? '');
    const target = this.markApproved(order);
    if (!target) {
      return page(
        200,
        'Zahlung bestätigt / Payment approved',
        '<p>Sie können dieses Fenster schließen. / You may close this window.</p>',
      );
    }
    return { status: 303, location: target };
  }

  /** Approves an order for the sandbox buyer; returns the return_url to send the browser to ('' without one). */
  private markApproved(order: OrderRecord): string {
    if (order.status !== 'APPROVED') {
      order.status = 'APPROVED';
      order.payerId = this.payerId;
      order.updateTime = now();
      this.emit(
        order.clientId,
        'CHECKOUT.ORDER.APPROVED',
        'checkout-order',
        'An order has been approved by buyer',
        this.orderJson(order),
      );
    }
    const returnUrl = order.context.return_url;
    return returnUrl ? withQuery(returnUrl, { token: order.id, PayerID: this.payerId }) : '';
  }
}

function page(status: number, title: string, content: string): Reply {
  return {
    status,
    html: `<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${content}
</main>
</body>
</html>
`,
  };
}

function send(res: http.ServerResponse, reply: Reply): void {
  const debugId = randomBytes(7).toString('hex').slice(0, 13);
  res.setHeader('paypal-debug-id', debugId);
  if (reply.location !== undefined) {
    res.writeHead(reply.status, { location: reply.location, 'content-length': '0' }).end();
  } else if (reply.html !== undefined) {
    res.writeHead(reply.status, { 'content-type': 'text/html; charset=utf-8' }).end(reply.html);
  } else if (reply.json === undefined) {
    res.writeHead(reply.status).end();
  } else {
    // REST error bodies carry the debug id PayPal support asks for; OAuth errors do not.
    const json =
      reply.status >= 400 && isRecord(reply.json) && 'name' in reply.json
        ? { ...reply.json, debug_id: debugId }
        : reply.json;
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  }
}
