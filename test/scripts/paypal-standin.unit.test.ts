import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPayPalStandIn, type PayPalStandIn } from '../../scripts/paypal-standin/server.js';

/** The parts of PayPal's answers these tests read. */
interface Link {
  href: string;
  rel: string;
  method?: string;
}
interface ErrorBody {
  name: string;
  message: string;
  debug_id: string;
  details?: Array<{ issue: string; field?: string; description?: string }>;
}
interface Capture {
  id: string;
  status: string;
  amount: { currency_code: string; value: string };
  final_capture: boolean;
  custom_id?: string;
  invoice_id?: string;
  seller_receivable_breakdown: Record<'gross_amount' | 'paypal_fee' | 'net_amount', { value: string }>;
}
interface Order {
  id: string;
  status: string;
  links: Link[];
  payer?: { name: { given_name: string; surname: string }; email_address: string; payer_id: string };
  purchase_units?: Array<{ custom_id?: string; invoice_id?: string; payments?: { captures: Capture[] } }>;
}
interface WebhookEvent {
  id: string;
  event_type: string;
  resource_type: string;
  resource: { id: string; supplementary_data?: { related_ids: { order_id: string } } };
}

const KIS = { clientId: 'kis-app', secret: 'kis-secret' };
const OTHER = { clientId: 'other-app', secret: 'other-secret' };
const RETURN_URL = 'https://kis.example/payments/return';
const CANCEL_URL = 'https://kis.example/payments/cancel';

let paypal: PayPalStandIn;

beforeEach(async () => {
  paypal = await startPayPalStandIn({ clients: [KIS, OTHER], webhookDelayMs: 5 });
});
afterEach(async () => {
  await paypal.close();
});

async function tokenResponse(client: { clientId: string; secret: string }): Promise<Response> {
  return fetch(`${paypal.url}/v1/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
}

async function token(client = KIS): Promise<string> {
  const body = (await (await tokenResponse(client)).json()) as { access_token: string };
  return body.access_token;
}

/** One JSON call the way KIS makes it. */
async function call<T>(
  accessToken: string,
  method: string,
  path: string,
  options: { body?: unknown; requestId?: string; prefer?: string } = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${paypal.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${accessToken}`,
      'content-type': 'application/json',
      ...(options.requestId ? { 'paypal-request-id': options.requestId } : {}),
      ...(options.prefer ? { prefer: options.prefer } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

function orderRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    intent: 'CAPTURE',
    purchase_units: [
      {
        reference_id: 'inv-1',
        custom_id: 'inv-1',
        invoice_id: 'RE-00001',
        description: 'Schlüsseldepot, März',
        amount: { currency_code: 'EUR', value: '119.00' },
        ...overrides,
      },
    ],
    payment_source: {
      paypal: {
        experience_context: {
          brand_name: 'KIS',
          locale: 'de-DE',
          user_action: 'PAY_NOW',
          shipping_preference: 'NO_SHIPPING',
          return_url: RETURN_URL,
          cancel_url: CANCEL_URL,
        },
      },
    },
  };
}

async function createOrder(accessToken: string, overrides: Record<string, unknown> = {}): Promise<Order> {
  const created = await call<Order>(accessToken, 'POST', '/v2/checkout/orders', { body: orderRequest(overrides) });
  expect(created.status).toBe(201);
  return created.body;
}

async function approvedOrder(accessToken: string, overrides: Record<string, unknown> = {}): Promise<Order> {
  const order = await createOrder(accessToken, overrides);
  await paypal.approve(order.id);
  return order;
}

function issue(body: unknown): string | undefined {
  return (body as ErrorBody).details?.[0]?.issue;
}

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A webhook listener like KIS's: records every delivery and answers 200. */
async function startListener(): Promise<{
  url: string;
  received: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  close: () => Promise<void>;
}> {
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/paypal/webhook`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function registerWebhook(accessToken: string, url: string, eventTypes: string[]): Promise<string> {
  const created = await call<{ id: string }>(accessToken, 'POST', '/v1/notifications/webhooks', {
    body: { url, event_types: eventTypes.map((name) => ({ name })) },
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

describe('OAuth2 token', () => {
  it('gives a bearer token for known credentials and invalid_client for wrong ones', async () => {
    const ok = await tokenResponse(KIS);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 32400 });
    expect(body.access_token).toEqual(expect.any(String));
    expect(body.app_id).toMatch(/^APP-[A-Z0-9]{17}$/);
    expect(body.nonce).toEqual(expect.any(String));
    expect(body.scope).toContain('https://uri.paypal.com/services/payments/payment');

    const refused = await tokenResponse({ clientId: 'kis-app', secret: 'nope' });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({
      error: 'invalid_client',
      error_description: 'Client Authentication failed',
    });
  });

  it('takes any credentials in the demo except the secret "wrong"', async () => {
    const demo = await startPayPalStandIn();
    try {
      const basic = (id: string, secret: string): RequestInit => ({
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      expect((await fetch(`${demo.url}/v1/oauth2/token`, basic('whatever', 'typed in'))).status).toBe(200);
      expect((await fetch(`${demo.url}/v1/oauth2/token`, basic('whatever', 'wrong'))).status).toBe(401);
    } finally {
      await demo.close();
    }
  });

  it('refuses API calls without a known token, with a debug id', async () => {
    const answer = await call<ErrorBody>('not-a-token', 'GET', '/v2/checkout/orders/5O190127TN364715T');
    expect(answer.status).toBe(401);
    expect(answer.body.name).toBe('AUTHENTICATION_FAILURE');
    expect(answer.body.debug_id).toMatch(/^[0-9a-f]+$/);
  });
});

describe('create order', () => {
  it('answers with a PayPal-like id and the payer-action link to the approval page', async () => {
    const order = await createOrder(await token());
    expect(order.id).toMatch(/^[A-Z0-9]{17}$/);
    expect(order.status).toBe('PAYER_ACTION_REQUIRED');
    expect(order.links).toContainEqual({
      href: `${paypal.url}/checkoutnow?token=${order.id}`,
      rel: 'payer-action',
      method: 'GET',
    });
    expect(order.links).toContainEqual({
      href: `${paypal.url}/v2/checkout/orders/${order.id}`,
      rel: 'self',
      method: 'GET',
    });
  });

  it('creates an order once per PayPal-Request-Id, so a retry after a timeout does not bill twice', async () => {
    const accessToken = await token();
    const first = await call<Order>(accessToken, 'POST', '/v2/checkout/orders', {
      body: orderRequest(),
      requestId: 'create-inv-1',
    });
    const again = await call<Order>(accessToken, 'POST', '/v2/checkout/orders', {
      body: orderRequest(),
      requestId: 'create-inv-1',
    });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(paypal.orders()).toHaveLength(1);
  });

  it('uses the approve link and status CREATED with the older application_context', async () => {
    const body = {
      intent: 'CAPTURE',
      purchase_units: [{ amount: { currency_code: 'EUR', value: '10.00' } }],
      application_context: { return_url: RETURN_URL, cancel_url: CANCEL_URL },
    };
    const created = await call<Order>(await token(), 'POST', '/v2/checkout/orders', { body });
    expect(created.body.status).toBe('CREATED');
    expect(created.body.links.map((l) => l.rel)).toEqual(['self', 'approve', 'update', 'capture']);
  });

  it('refuses a breakdown that does not add up to the amount (422 AMOUNT_MISMATCH)', async () => {
    const answer = await call<ErrorBody>(await token(), 'POST', '/v2/checkout/orders', {
      body: orderRequest({
        amount: {
          currency_code: 'EUR',
          value: '119.00',
          breakdown: {
            item_total: { currency_code: 'EUR', value: '100.00' },
            tax_total: { currency_code: 'EUR', value: '9.00' },
          },
        },
      }),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.name).toBe('UNPROCESSABLE_ENTITY');
    expect(issue(answer.body)).toBe('AMOUNT_MISMATCH');
    expect(answer.body.debug_id).toEqual(expect.any(String));
  });

  it('refuses an order without an amount (400 MISSING_REQUIRED_PARAMETER) and broken JSON', async () => {
    const accessToken = await token();
    const missing = await call<ErrorBody>(accessToken, 'POST', '/v2/checkout/orders', {
      body: orderRequest({ amount: undefined }),
    });
    expect(missing.status).toBe(400);
    expect(missing.body.name).toBe('INVALID_REQUEST');
    expect(missing.body.details?.[0]).toMatchObject({
      issue: 'MISSING_REQUIRED_PARAMETER',
      field: "/purchase_units/@reference_id=='inv-1'/amount",
    });

    const broken = await fetch(`${paypal.url}/v2/checkout/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: '{"intent":',
    });
    expect(broken.status).toBe(400);
    expect(issue(await broken.json())).toBe('MALFORMED_REQUEST_JSON');
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const answer = await fetch(`${paypal.url}/v2/checkout/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...orderRequest(), padding: 'x'.repeat(1024 * 1024) }),
    });
    expect(answer.status).toBe(413);
    expect(((await answer.json()) as ErrorBody).debug_id).toEqual(expect.any(String));
    expect(paypal.orders()).toHaveLength(0);
  });
});

describe('approval page', () => {
  it('shows the order and sends the payer back to return_url with token and PayerID', async () => {
    const accessToken = await token();
    const order = await createOrder(accessToken);
    const pageResponse = await fetch(`${paypal.url}/checkoutnow?token=${order.id}`);
    const html = await pageResponse.text();
    expect(pageResponse.status).toBe(200);
    expect(html).toContain(`PayPal (Testumgebung) — Bestellung ${order.id} — 119,00 EUR`);
    expect(html).toContain('Jetzt bezahlen');
    expect(html).toContain(`href="${CANCEL_URL}?token=${order.id}"`);

    const approved = await fetch(`${paypal.url}/checkoutnow/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: order.id }).toString(),
      redirect: 'manual',
    });
    expect(approved.status).toBe(303);
    const location = new URL(approved.headers.get('location') ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(RETURN_URL);
    expect(location.searchParams.get('token')).toBe(order.id);
    expect(location.searchParams.get('PayerID')).toMatch(/^[A-Z0-9]{13}$/);

    const shown = await call<Order>(accessToken, 'GET', `/v2/checkout/orders/${order.id}`);
    expect(shown.body.status).toBe('APPROVED');
    expect(shown.body.payer).toMatchObject({
      name: { given_name: 'Erika', surname: 'Mustermann' },
      email_address: 'sb-buyer@personal.example.com',
      payer_id: location.searchParams.get('PayerID'),
    });
  });

  it('answers 404 for an order it does not know', async () => {
    expect((await fetch(`${paypal.url}/checkoutnow?token=NOSUCHORDER000000`)).status).toBe(404);
  });
});

describe('capture', () => {
  it('refuses to capture an order the payer has not approved (422 ORDER_NOT_APPROVED)', async () => {
    const accessToken = await token();
    const order = await createOrder(accessToken);
    const answer = await call<ErrorBody>(accessToken, 'POST', `/v2/checkout/orders/${order.id}/capture`);
    expect(answer.status).toBe(422);
    expect(issue(answer.body)).toBe('ORDER_NOT_APPROVED');
  });

  it('declines while the decline switch is on and captures once it is off again', async () => {
    const accessToken = await token();
    const order = await approvedOrder(accessToken);
    paypal.switches.decline = true;
    const declined = await call<ErrorBody>(accessToken, 'POST', `/v2/checkout/orders/${order.id}/capture`, {
      requestId: 'capture-1',
    });
    expect(declined.status).toBe(422);
    expect(issue(declined.body)).toBe('INSTRUMENT_DECLINED');
    expect(paypal.orders()[0]?.status).toBe('APPROVED');

    paypal.switches.decline = false;
    const captured = await call<Order>(accessToken, 'POST', `/v2/checkout/orders/${order.id}/capture`, {
      requestId: 'capture-2',
    });
    expect(captured.status).toBe(201);
    expect(captured.body.status).toBe('COMPLETED');
    expect(captured.body.payer?.name.surname).toBe('Mustermann');
    const capture = captured.body.purchase_units?.[0]?.payments?.captures[0];
    expect(capture).toMatchObject({
      status: 'COMPLETED',
      amount: { currency_code: 'EUR', value: '119.00' },
      final_capture: true,
      custom_id: 'inv-1',
      invoice_id: 'RE-00001',
    });
    expect(capture?.id).toMatch(/^[A-Z0-9]{17}$/);
    expect(capture?.seller_receivable_breakdown.gross_amount.value).toBe('119.00');
    expect(paypal.orders()[0]).toMatchObject({ status: 'COMPLETED', captureId: capture?.id, refunded: '0.00' });
  });

  it('answers a repeated PayPal-Request-Id with the same capture and another capture with ORDER_ALREADY_CAPTURED', async () => {
    const accessToken = await token();
    const order = await approvedOrder(accessToken);
    const path = `/v2/checkout/orders/${order.id}/capture`;
    const first = await call<Order>(accessToken, 'POST', path, { requestId: 'capture-inv-1' });
    const again = await call<Order>(accessToken, 'POST', path, { requestId: 'capture-inv-1' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const other = await call<ErrorBody>(accessToken, 'POST', path, { requestId: 'capture-inv-1-b' });
    expect(other.status).toBe(422);
    expect(issue(other.body)).toBe('ORDER_ALREADY_CAPTURED');
  });

  it('does not show one app its neighbour’s order', async () => {
    const order = await createOrder(await token(KIS));
    const answer = await call<ErrorBody>(await token(OTHER), 'GET', `/v2/checkout/orders/${order.id}`);
    expect(answer.status).toBe(404);
    expect(answer.body.name).toBe('RESOURCE_NOT_FOUND');
  });
});

describe('webhooks', () => {
  it('delivers PAYMENT.CAPTURE.COMPLETED signed, verifiable, and refuses a tampered copy', async () => {
    const listener = await startListener();
    try {
      const accessToken = await token();
      const webhookId = await registerWebhook(accessToken, listener.url, ['PAYMENT.CAPTURE.COMPLETED']);
      const order = await approvedOrder(accessToken);
      await call(accessToken, 'POST', `/v2/checkout/orders/${order.id}/capture`);
      await until(() => listener.received.length === 1, 'the webhook delivery');

      const delivery = listener.received[0];
      if (!delivery) throw new Error('no delivery');
      const h = delivery.headers;
      expect(h['content-type']).toBe('application/json');
      expect(h['paypal-auth-algo']).toBe('SHA256withRSA');
      expect(h['paypal-transmission-id']).toEqual(expect.any(String));
      expect(Number.isNaN(Date.parse(String(h['paypal-transmission-time'])))).toBe(false);
      expect(h['paypal-transmission-sig']).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(h['paypal-cert-url']).toMatch(new RegExp(`^${paypal.url}/v1/notifications/certs/CERT-`));
      const event = JSON.parse(delivery.body) as WebhookEvent;
      expect(event).toMatchObject({
        event_type: 'PAYMENT.CAPTURE.COMPLETED',
        resource_type: 'capture',
        event_version: '1.0',
        resource_version: '2.0',
      });
      expect(event.id).toMatch(/^WH-/);
      expect(event.resource.supplementary_data?.related_ids.order_id).toBe(order.id);
      expect(event.resource.id).toBe(paypal.orders()[0]?.captureId);
      // The stand-in books the delivery when the listener's answer is back, a moment after the listener has it.
      await until(() => paypal.webhooksSent().length === 1, 'the delivery booked');
      expect(paypal.webhooksSent()).toEqual([
        {
          url: listener.url,
          eventType: 'PAYMENT.CAPTURE.COMPLETED',
          transmissionId: h['paypal-transmission-id'],
          status: 200,
        },
      ]);

      const verify = (webhookEvent: unknown): Promise<{ status: number; body: { verification_status: string } }> =>
        call(accessToken, 'POST', '/v1/notifications/verify-webhook-signature', {
          body: {
            auth_algo: h['paypal-auth-algo'],
            cert_url: h['paypal-cert-url'],
            transmission_id: h['paypal-transmission-id'],
            transmission_sig: h['paypal-transmission-sig'],
            transmission_time: h['paypal-transmission-time'],
            webhook_id: webhookId,
            webhook_event: webhookEvent,
          },
        });
      expect((await verify(event)).body.verification_status).toBe('SUCCESS');
      const tampered = { ...event, resource: { ...event.resource, id: 'ANOTHERCAPTURE000' } };
      expect((await verify(tampered)).body.verification_status).toBe('FAILURE');

      const incomplete = await call<ErrorBody>(accessToken, 'POST', '/v1/notifications/verify-webhook-signature', {
        body: { webhook_event: event },
      });
      expect(incomplete.status).toBe(400);
      expect(incomplete.body.name).toBe('VALIDATION_ERROR');
    } finally {
      await listener.close();
    }
  });

  it('refuses a second webhook for the same URL', async () => {
    const accessToken = await token();
    await registerWebhook(accessToken, 'https://kis.example/paypal/webhook', ['*']);
    const again = await call<ErrorBody>(accessToken, 'POST', '/v1/notifications/webhooks', {
      body: { url: 'https://kis.example/paypal/webhook', event_types: [{ name: '*' }] },
    });
    expect(again.status).toBe(400);
    expect(again.body.name).toBe('WEBHOOK_URL_ALREADY_EXISTS');
    const listed = await call<{ webhooks: Array<{ url: string }> }>(accessToken, 'GET', '/v1/notifications/webhooks');
    expect(listed.body.webhooks.map((w) => w.url)).toEqual(['https://kis.example/paypal/webhook']);
  });

  it('delivers the same event twice when the duplicate switch is on', async () => {
    const listener = await startListener();
    try {
      const accessToken = await token();
      await registerWebhook(accessToken, listener.url, ['PAYMENT.CAPTURE.COMPLETED']);
      const order = await approvedOrder(accessToken);
      paypal.switches.duplicateWebhook = true;
      await call(accessToken, 'POST', `/v2/checkout/orders/${order.id}/capture`);
      await until(() => listener.received.length === 2, 'two deliveries');

      const [first, second] = listener.received;
      expect(second?.body).toBe(first?.body);
      expect(second?.headers['paypal-transmission-id']).toBe(first?.headers['paypal-transmission-id']);
      expect(second?.headers['paypal-transmission-sig']).toBe(first?.headers['paypal-transmission-sig']);
      // The stand-in records a delivery once the listener's answer is back, a moment after the listener has it.
      await until(() => paypal.webhooksSent().length >= 2, 'both deliveries recorded');
      expect(paypal.webhooksSent()).toHaveLength(2);
    } finally {
      await listener.close();
    }
  });
});

describe('refund', () => {
  it('refunds a capture in full once and then answers CAPTURE_FULLY_REFUNDED', async () => {
    const accessToken = await token();
    const order = await approvedOrder(accessToken);
    const captured = await call<Order>(accessToken, 'POST', `/v2/checkout/orders/${order.id}/capture`);
    const captureId = captured.body.purchase_units?.[0]?.payments?.captures[0]?.id ?? '';

    const refund = await call<{ id: string; status: string; links: Link[] }>(
      accessToken,
      'POST',
      `/v2/payments/captures/${captureId}/refund`,
      { body: {}, requestId: 'refund-inv-1' },
    );
    expect(refund.status).toBe(201);
    expect(refund.body.status).toBe('COMPLETED');
    expect(refund.body.id).toMatch(/^[A-Z0-9]{17}$/);
    expect(refund.body.links.map((l) => l.rel)).toEqual(['self', 'up']);
    expect(paypal.orders()[0]?.refunded).toBe('119.00');

    const again = await call<ErrorBody>(accessToken, 'POST', `/v2/payments/captures/${captureId}/refund`, { body: {} });
    expect(again.status).toBe(422);
    expect(issue(again.body)).toBe('CAPTURE_FULLY_REFUNDED');

    const shown = await call<Order>(accessToken, 'GET', `/v2/checkout/orders/${order.id}`);
    expect(shown.body.purchase_units?.[0]?.payments?.captures[0]?.status).toBe('REFUNDED');
  });
});

describe('fault switches', () => {
  it('holds answers back so that a client timeout fires', async () => {
    const accessToken = await token();
    paypal.switches.timeoutMs = 1_000;
    const slow = fetch(`${paypal.url}/v1/notifications/webhooks`, {
      headers: { authorization: `Bearer ${accessToken}` },
      signal: AbortSignal.timeout(200),
    });
    await expect(slow).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('resets the connection while down, so the client sees a network error', async () => {
    const accessToken = await token();
    paypal.switches.down = true;
    await expect(
      fetch(`${paypal.url}/v2/checkout/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(orderRequest()),
      }),
    ).rejects.toThrow(TypeError);
    expect(paypal.orders()).toHaveLength(0);
    // The payer's page is not the API: it stays up.
    expect((await fetch(`${paypal.url}/checkoutnow?token=NOSUCHORDER000000`)).status).toBe(404);
  });
});
