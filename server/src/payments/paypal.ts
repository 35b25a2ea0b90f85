/**
 * A small client for the parts of PayPal's REST API that KIS uses: OAuth2 client credentials,
 * Orders v2 (create, get, capture), Payments v2 refunds, and webhooks (register, verify a
 * delivery). No SDK: these are six JSON calls, and PayPal's Node SDK is not maintained for them.
 *
 * Every call that changes something at PayPal carries a `PayPal-Request-Id`, so a retry after a
 * timeout is answered with the first result instead of paying twice.
 */

/** Where PayPal is, per mode; `KIS_PAYPAL_BASE_URL` replaces both (the stand-in in tests and demos). */
export const PAYPAL_BASE_URLS = {
  sandbox: 'https://api-m.sandbox.paypal.com',
  live: 'https://api-m.paypal.com',
} as const;
export type PayPalMode = keyof typeof PAYPAL_BASE_URLS;

/** An organization's REST app credentials. */
export interface PayPalCredentials {
  clientId: string;
  secret: string;
  mode: PayPalMode;
}

/** Why a call failed, as the service needs to know it. */
export type PayPalFailure =
  /** Wrong client id or secret. */
  | 'auth'
  /** No answer (network, timeout) or a 5xx: nothing is known to have happened; retry. */
  | 'unavailable'
  /** The payer's funding source was declined; they may try another. */
  | 'declined'
  | 'already_captured'
  | 'not_approved'
  | 'not_found'
  /** Anything else PayPal refused (4xx). */
  | 'rejected';

/** A failed PayPal call. `issue` is PayPal's detail code (e.g. INSTRUMENT_DECLINED). */
export class PayPalError extends Error {
  override name = 'PayPalError';
  constructor(
    readonly failure: PayPalFailure,
    readonly status: number | null,
    readonly issue: string | null,
    readonly debugId: string | null,
  ) {
    super(`PayPal ${failure}${status ? ` (${status})` : ''}${issue ? `: ${issue}` : ''}`);
  }
}

export interface Money {
  currency_code: string;
  value: string;
}

/** The parts of an order KIS reads. */
export interface PayPalOrder {
  id: string;
  status: 'CREATED' | 'SAVED' | 'APPROVED' | 'VOIDED' | 'COMPLETED' | 'PAYER_ACTION_REQUIRED';
  links?: Array<{ href: string; rel: string; method?: string }>;
  purchase_units?: Array<{
    reference_id?: string;
    custom_id?: string;
    invoice_id?: string;
    amount?: Money;
    payments?: { captures?: PayPalCapture[] };
  }>;
}

export interface PayPalCapture {
  id: string;
  status: 'COMPLETED' | 'DECLINED' | 'PARTIALLY_REFUNDED' | 'PENDING' | 'REFUNDED' | 'FAILED';
  amount: Money;
  custom_id?: string;
  invoice_id?: string;
  supplementary_data?: { related_ids?: { order_id?: string } };
}

/** A webhook event as PayPal delivers it. */
export interface PayPalWebhookEvent {
  id: string;
  event_type: string;
  resource_type?: string;
  resource: Record<string, unknown>;
}

/** The headers PayPal signs a webhook delivery with (lower-case, as Node gives them). */
export interface WebhookHeaders {
  'paypal-auth-algo'?: string | undefined;
  'paypal-cert-url'?: string | undefined;
  'paypal-transmission-id'?: string | undefined;
  'paypal-transmission-sig'?: string | undefined;
  'paypal-transmission-time'?: string | undefined;
}

export interface OrderInput {
  /** Our invoice id: comes back on the capture and in webhooks. */
  customId: string;
  /** The printed invoice number (PayPal refuses a number that was paid before). */
  invoiceNumber: string;
  description: string;
  amount: Money;
  returnUrl: string;
  cancelUrl: string;
  brandName: string;
  locale: 'de-DE' | 'en-US';
}

interface TokenEntry {
  token: string;
  expiresAt: number;
}

/** A PayPal REST client for any number of organizations' credentials. */
export class PayPalClient {
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(
    private readonly options: {
      /** Replaces PayPal's URL for both modes. */
      baseUrl?: string | undefined;
      /** How long one call may take before it counts as unavailable. */
      timeoutMs: number;
    },
  ) {}

  private base(mode: PayPalMode): string {
    return (this.options.baseUrl ?? PAYPAL_BASE_URLS[mode]).replace(/\/+$/, '');
  }

  /** Gets (or reuses) an access token; fails with `auth` for wrong credentials. */
  async accessToken(creds: PayPalCredentials): Promise<string> {
    const key = `${creds.mode}:${creds.clientId}:${creds.secret}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const answer = await this.call(creds.mode, '/v1/oauth2/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const body = answer as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== 'string') throw new PayPalError('rejected', 200, 'NO_TOKEN', null);
    const seconds = typeof body.expires_in === 'number' ? body.expires_in : 300;
    // A minute early, so a token never expires between our check and PayPal's.
    this.tokens.set(key, { token: body.access_token, expiresAt: Date.now() + Math.max(0, seconds - 60) * 1000 });
    return body.access_token;
  }

  /** Forgets cached tokens of these credentials (after they changed or PayPal refused a token). */
  forget(clientId: string): void {
    for (const key of this.tokens.keys()) if (key.includes(`:${clientId}:`)) this.tokens.delete(key);
  }

  /** Creates an order for one invoice; the payer approves it at the returned link. */
  async createOrder(creds: PayPalCredentials, input: OrderInput, requestId: string): Promise<PayPalOrder> {
    return (await this.authed(creds, '/v2/checkout/orders', {
      method: 'POST',
      requestId,
      body: {
        intent: 'CAPTURE',
        purchase_units: [
          {
            reference_id: input.customId,
            custom_id: input.customId,
            invoice_id: input.invoiceNumber,
            description: input.description.slice(0, 127),
            amount: input.amount,
          },
        ],
        payment_source: {
          paypal: {
            experience_context: {
              brand_name: input.brandName.slice(0, 127),
              locale: input.locale,
              user_action: 'PAY_NOW',
              shipping_preference: 'NO_SHIPPING',
              return_url: input.returnUrl,
              cancel_url: input.cancelUrl,
            },
          },
        },
      },
    })) as PayPalOrder;
  }

  async getOrder(creds: PayPalCredentials, orderId: string): Promise<PayPalOrder> {
    return (await this.authed(creds, `/v2/checkout/orders/${encodeURIComponent(orderId)}`, {
      method: 'GET',
    })) as PayPalOrder;
  }

  /** Captures an approved order. The same request id always gets the same answer from PayPal. */
  async captureOrder(creds: PayPalCredentials, orderId: string, requestId: string): Promise<PayPalOrder> {
    return (await this.authed(creds, `/v2/checkout/orders/${encodeURIComponent(orderId)}/capture`, {
      method: 'POST',
      requestId,
      body: {},
    })) as PayPalOrder;
  }

  /** Refunds a capture in full. */
  async refundCapture(creds: PayPalCredentials, captureId: string, requestId: string): Promise<{ id: string }> {
    return (await this.authed(creds, `/v2/payments/captures/${encodeURIComponent(captureId)}/refund`, {
      method: 'POST',
      requestId,
      body: {},
    })) as { id: string };
  }

  /** Registers a webhook for these event types; returns its id. */
  async registerWebhook(creds: PayPalCredentials, url: string, eventTypes: readonly string[]): Promise<string> {
    const answer = (await this.authed(creds, '/v1/notifications/webhooks', {
      method: 'POST',
      body: { url, event_types: eventTypes.map((name) => ({ name })) },
    })) as { id?: unknown };
    if (typeof answer.id !== 'string') throw new PayPalError('rejected', 201, 'NO_WEBHOOK_ID', null);
    return answer.id;
  }

  /** The webhooks registered for these credentials. */
  async listWebhooks(creds: PayPalCredentials): Promise<Array<{ id: string; url: string }>> {
    const answer = (await this.authed(creds, '/v1/notifications/webhooks', { method: 'GET' })) as {
      webhooks?: Array<{ id: string; url: string }>;
    };
    return answer.webhooks ?? [];
  }

  /**
   * Asks PayPal whether a webhook delivery is genuine (PayPal's verify-webhook-signature). The
   * event is passed back exactly as it was received.
   */
  async verifyWebhook(
    creds: PayPalCredentials,
    webhookId: string,
    headers: WebhookHeaders,
    event: unknown,
  ): Promise<boolean> {
    const h = headers;
    if (
      !h['paypal-auth-algo'] ||
      !h['paypal-cert-url'] ||
      !h['paypal-transmission-id'] ||
      !h['paypal-transmission-sig'] ||
      !h['paypal-transmission-time']
    )
      return false;
    const answer = (await this.authed(creds, '/v1/notifications/verify-webhook-signature', {
      method: 'POST',
      body: {
        auth_algo: h['paypal-auth-algo'],
        cert_url: h['paypal-cert-url'],
        transmission_id: h['paypal-transmission-id'],
        transmission_sig: h['paypal-transmission-sig'],
        transmission_time: h['paypal-transmission-time'],
        webhook_id: webhookId,
        webhook_event: event,
      },
    })) as { verification_status?: unknown };
    return answer.verification_status === 'SUCCESS';
  }

  private async authed(
    creds: PayPalCredentials,
    path: string,
    init: { method: 'GET' | 'POST'; body?: unknown; requestId?: string },
  ): Promise<unknown> {
    const token = await this.accessToken(creds);
    try {
      return await this.call(creds.mode, path, {
        method: init.method,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          prefer: 'return=representation',
          ...(init.requestId ? { 'paypal-request-id': init.requestId } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
    } catch (err) {
      // An expired or revoked token: forget it, so the next call fetches a new one.
      if (err instanceof PayPalError && err.failure === 'auth') this.forget(creds.clientId);
      throw err;
    }
  }

  private async call(
    mode: PayPalMode,
    path: string,
    init: { method: string; headers: Record<string, string>; body?: string },
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.base(mode)}${path}`, {
        ...init,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch {
      throw new PayPalError('unavailable', null, null, null);
    }
    let text: string;
    try {
      text = await response.text();
    } catch {
      throw new PayPalError('unavailable', response.status, null, null);
    }
    let body: unknown = {};
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = {};
      }
    }
    if (response.ok) return body;
    throw failureOf(response.status, body);
  }
}

function failureOf(status: number, body: unknown): PayPalError {
  const b = (body ?? {}) as {
    name?: unknown;
    error?: unknown;
    debug_id?: unknown;
    details?: Array<{ issue?: unknown }>;
  };
  const issue =
    (Array.isArray(b.details) && typeof b.details[0]?.issue === 'string' ? b.details[0].issue : undefined) ??
    (typeof b.name === 'string' ? b.name : typeof b.error === 'string' ? b.error : null);
  const debugId = typeof b.debug_id === 'string' ? b.debug_id : null;
  if (status === 401 || status === 403) return new PayPalError('auth', status, issue, debugId);
  if (status >= 500 || status === 429 || status === 408) return new PayPalError('unavailable', status, issue, debugId);
  if (status === 404) return new PayPalError('not_found', status, issue, debugId);
  switch (issue) {
    case 'INSTRUMENT_DECLINED':
    case 'TRANSACTION_REFUSED':
      return new PayPalError('declined', status, issue, debugId);
    case 'ORDER_ALREADY_CAPTURED':
      return new PayPalError('already_captured', status, issue, debugId);
    // PayPal's capture answers either while the payer has not approved yet.
    case 'PAYER_ACTION_REQUIRED':
    case 'ORDER_NOT_APPROVED':
      return new PayPalError('not_approved', status, issue, debugId);
    default:
      return new PayPalError('rejected', status, issue, debugId);
  }
}

/** Euro cents as PayPal writes amounts: "119.00". */
export function money(cents: number): Money {
  return { currency_code: 'EUR', value: (cents / 100).toFixed(2) };
}

/** PayPal's amount back in cents; NaN when it is not a plain amount. */
export function centsOf(amount: Money | undefined): number {
  if (!amount || amount.currency_code !== 'EUR' || !/^\d+(\.\d{1,2})?$/.test(amount.value)) return Number.NaN;
  const [whole = '0', fraction = ''] = amount.value.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}
