import type { InvoiceView, Issuer, PayView } from '@kis/protocol/api';
import * as audit from '../audit/service.js';
import * as depots from '../depots/service.js';
import { Conflict, Invalid, NotFound, Unavailable } from '../errors.js';
import { totals } from './amounts.js';
import { confirmCapture, confirmRefund, invoiceByToken } from './invoices.js';
import { Invoice, type InvoiceDoc } from './model.js';
import { centsOf, money, PayPalError, type PayPalCapture, type PayPalOrder, type WebhookHeaders } from './paypal.js';
import { credentialsOf, ctx, settingsOf, webhookTarget } from './settings.js';

/**
 * The public side of payments: the payment page behind an invoice's link (no account), PayPal's
 * Orders v2 flow (create → the payer approves at PayPal → capture on return), and PayPal's webhook
 * as the second path. Each step is idempotent: a repeated return or webhook books once.
 */

async function byToken(token: string): Promise<InvoiceDoc> {
  const doc = await invoiceByToken(token);
  // Drafts have no token; a wrong token and a gone invoice look the same.
  if (!doc) throw new NotFound('invoice_not_found');
  return doc;
}

/**
 * What the payer sees. The PIN's digits only in the answer to the payer's return from PayPal
 * (`withPin`): whoever holds just the link, from a forwarded invoice PDF say, does not see them.
 */
export async function payView(token: string, withPin = false): Promise<PayView> {
  const doc = await byToken(token);
  const issuer = doc.issuer as Issuer;
  const customer = doc.customer as InvoiceView['customer'];
  let pin: PayView['pin'] = null;
  if (
    withPin &&
    doc.state === 'paid' &&
    doc.pinId &&
    doc.pinValidFrom &&
    doc.pinValidUntil &&
    doc.pinValidUntil.getTime() > Date.now()
  ) {
    const released = await depots.releasedPin(doc.pinId);
    if (released && released.state !== 'revoking' && released.state !== 'revoked') {
      pin = {
        digits: released.digits,
        validFrom: doc.pinValidFrom.toISOString(),
        validUntil: doc.pinValidUntil.toISOString(),
      };
    }
  }
  return {
    number: doc.number ?? '',
    state: doc.state as PayView['state'],
    issuer: { name: issuer.name, city: issuer.city },
    customerName: customer.name,
    items: doc.items.map((i) => ({ ...i, vatRate: i.vatRate as 19 | 7 | 0 })),
    ...totals(doc.items),
    issueDate: doc.issueDate ?? '',
    dueDate: doc.dueDate ?? '',
    pickup:
      doc.depotName && doc.comp
        ? { depotName: doc.depotName, location: doc.depotLocation ?? '', comp: doc.comp }
        : null,
    pin,
    // Whether PayPal is set up, without opening the secret.
    payable: doc.state === 'open' && (await settingsOf(doc.organizationId)).paypal !== null,
  };
}

function unavailable(err: unknown): never {
  if (err instanceof PayPalError && err.failure === 'unavailable')
    throw new Unavailable('payment_provider_unavailable');
  if (err instanceof PayPalError && err.failure === 'auth')
    throw new Unavailable('payment_provider_unavailable', 'PayPal refused the shop credentials');
  throw err;
}

function approveLink(order: PayPalOrder): string | undefined {
  return order.links?.find((l) => l.rel === 'payer-action' || l.rel === 'approve')?.href;
}

function captureOf(order: PayPalOrder): PayPalCapture | undefined {
  return order.purchase_units?.[0]?.payments?.captures?.find((c) => c.status === 'COMPLETED');
}

/**
 * Starts paying: an order at PayPal for the invoice's total, and the link where the payer approves
 * it. An order already under way is reused; a new one gets a new request id (attempt).
 */
export async function startPayment(token: string, lang: 'de' | 'en'): Promise<{ approveUrl: string }> {
  const doc = await byToken(token);
  if (doc.state !== 'open') throw new Conflict('invoice_not_open');
  const creds = await credentialsOf(doc.organizationId);
  if (!creds) throw new Invalid('paypal_not_configured');
  const id = String(doc._id);
  try {
    if (doc.orderId) {
      // The order under way is reused; one PayPal no longer knows (expired, another app since),
      // or one that was voided, makes way for a new one.
      const order = await ctx()
        .paypal.getOrder(creds, doc.orderId)
        .catch((err: unknown) => {
          if (err instanceof PayPalError && (err.failure === 'not_found' || err.failure === 'rejected'))
            return undefined;
          throw err;
        });
      if (order?.status === 'COMPLETED') {
        const capture = captureOf(order);
        if (capture) {
          await book(id, order, capture, 'return');
          throw new Conflict('invoice_paid');
        }
        // Completed without a completed capture: PayPal still decides (pending).
        throw new Conflict('payment_pending');
      }
      const link = order ? approveLink(order) : undefined;
      if (order && link && order.status !== 'VOIDED') return { approveUrl: link };
    }
    const attempt = (doc.orderAttempt ?? 0) + 1;
    const base = `${ctx().publicUrl}/bezahlen/${token}`;
    const order = await ctx().paypal.createOrder(
      creds,
      {
        customId: id,
        invoiceNumber: doc.number ?? id,
        description: `${doc.number ?? ''} ${(doc.issuer as Issuer).name}`.trim(),
        amount: money(doc.grossCents),
        returnUrl: `${base}?paypal=return`,
        cancelUrl: `${base}?paypal=cancel`,
        brandName: (doc.issuer as Issuer).name,
        locale: lang === 'de' ? 'de-DE' : 'en-US',
      },
      `kis-order-${id}-${attempt}`,
    );
    const link = approveLink(order);
    if (!link) throw new Unavailable('payment_provider_unavailable', 'order without approval link');
    await Invoice.updateOne(
      { _id: doc._id, state: 'open' },
      { $set: { orderId: order.id, orderAttempt: attempt, orderAt: new Date() } },
    );
    await audit.record({
      action: 'payments.order_created',
      outcome: 'success',
      target: id,
      details: { number: doc.number ?? null, orderId: order.id, attempt },
    });
    return { approveUrl: link };
  } catch (err) {
    return unavailable(err);
  }
}

async function book(
  invoiceId: string,
  order: PayPalOrder,
  capture: PayPalCapture,
  source: 'return' | 'webhook' | 'reconcile',
): Promise<InvoiceDoc> {
  return confirmCapture(invoiceId, {
    captureId: capture.id,
    orderId: order.id,
    amountCents: centsOf(capture.amount),
    customId: capture.custom_id ?? order.purchase_units?.[0]?.custom_id,
    source,
  });
}

/**
 * The payer is back from PayPal: capture the approved order and release the PIN. A repeated
 * return captures nothing twice: PayPal answers the same request id with the same capture, and an
 * order captured before is read back instead.
 */
export async function capturePayment(token: string, orderId: string): Promise<PayView> {
  const doc = await byToken(token);
  const id = String(doc._id);
  if (doc.state === 'paid' || doc.state === 'picked_up') return payView(token, doc.orderId === orderId);
  if (doc.state !== 'open') throw new Conflict('invoice_not_open');
  if (doc.orderId !== orderId) throw new Invalid('order_unknown');
  const creds = await credentialsOf(doc.organizationId);
  if (!creds) throw new Invalid('paypal_not_configured');
  let order: PayPalOrder;
  try {
    order = await ctx().paypal.captureOrder(creds, orderId, `kis-capture-${orderId}`);
  } catch (err) {
    if (err instanceof PayPalError && err.failure === 'already_captured') {
      order = await ctx().paypal.getOrder(creds, orderId).catch(unavailable);
    } else if (err instanceof PayPalError && err.failure === 'declined') {
      await audit.record({
        action: 'payments.capture_declined',
        outcome: 'failure',
        target: id,
        details: { number: doc.number ?? null, orderId, issue: err.issue },
      });
      throw new Conflict('payment_declined');
    } else if (err instanceof PayPalError && err.failure === 'not_approved') {
      throw new Conflict('payment_not_approved');
    } else if (err instanceof PayPalError && (err.failure === 'not_found' || err.issue === 'ORDER_EXPIRED')) {
      // The order is gone at PayPal: the next "pay" makes a new one.
      await Invoice.updateOne({ _id: doc._id, orderId }, { $unset: { orderId: 1 } });
      throw new Conflict('payment_expired');
    } else return unavailable(err);
  }
  const capture = captureOf(order);
  if (!capture) throw new Conflict('payment_pending');
  await book(id, order, capture, 'return');
  return payView(token, true);
}

/**
 * Orders the payer did not come back from (a lost answer, a closed tab): read at PayPal, booked
 * when completed, captured when approved. Orders between two minutes and three days old, newest
 * first; PayPal's webhook usually got there before.
 */
export async function reconcileOrders(now = new Date()): Promise<void> {
  const open = (await Invoice.find({
    state: 'open',
    orderId: { $exists: true },
    orderAt: { $lt: new Date(now.getTime() - 2 * 60_000), $gt: new Date(now.getTime() - 3 * 86_400_000) },
  })
    .sort({ orderAt: -1 })
    .limit(50)
    .lean()) as InvoiceDoc[];
  for (const doc of open) {
    const creds = await credentialsOf(doc.organizationId);
    if (!creds || !doc.orderId) continue;
    try {
      let order = await ctx().paypal.getOrder(creds, doc.orderId);
      if (order.status === 'APPROVED')
        order = await ctx().paypal.captureOrder(creds, doc.orderId, `kis-capture-${doc.orderId}`);
      const capture = captureOf(order);
      if (capture) await book(String(doc._id), order, capture, 'reconcile');
    } catch (err) {
      ctx().logger.info({ invoiceId: String(doc._id), err: (err as Error).message }, 'open order not settled yet');
    }
  }
}

/** Where a refund's capture is: PayPal links a refund "up" to it. */
function capturedIdOfRefund(resource: Record<string, unknown>): string | undefined {
  const links = resource.links as Array<{ rel?: string; href?: string }> | undefined;
  const up = links?.find((l) => l.rel === 'up')?.href;
  return up?.match(/\/captures\/([^/?#]+)/)?.[1];
}

/**
 * A webhook delivery from PayPal: verified through PayPal's verification API with the
 * organization's credentials and webhook id, then booked like a return. Unknown event types are
 * acknowledged and ignored. PayPal unreachable → 503, so PayPal delivers again later.
 */
export async function handleWebhook(key: string, headers: WebhookHeaders, event: unknown): Promise<{ ok: true }> {
  const target = await webhookTarget(key);
  if (!target) throw new NotFound('webhook_unknown');
  const creds = await credentialsOf(target.organizationId);
  if (!creds) throw new NotFound('webhook_unknown');
  const verified = await ctx()
    .paypal.verifyWebhook(creds, target.webhookId, headers, event)
    .catch((err: unknown) => unavailable(err));
  const e = event as { id?: unknown; event_type?: unknown; resource?: Record<string, unknown> };
  if (!verified) {
    await audit.record({
      action: 'payments.webhook_rejected',
      outcome: 'failure',
      target: target.organizationId,
      details: { eventId: typeof e.id === 'string' ? e.id.slice(0, 64) : null },
    });
    throw new Invalid('webhook_unverified');
  }
  const resource = e.resource ?? {};
  if (e.event_type === 'PAYMENT.CAPTURE.COMPLETED') {
    const capture = resource as unknown as PayPalCapture;
    const invoiceId = capture.custom_id;
    const doc = invoiceId
      ? await Invoice.findById(invoiceId)
          .lean()
          .catch(() => null)
      : null;
    if (!doc || doc.organizationId !== target.organizationId) return { ok: true };
    await confirmCapture(String(doc._id), {
      captureId: capture.id,
      orderId: capture.supplementary_data?.related_ids?.order_id,
      amountCents: centsOf(capture.amount),
      customId: invoiceId,
      source: 'webhook',
    }).catch((err: unknown) => {
      // A capture that does not match is logged by confirmCapture; PayPal need not send it again.
      if (!(err instanceof Conflict)) throw err;
    });
  } else if (e.event_type === 'PAYMENT.CAPTURE.REFUNDED') {
    const captureId = capturedIdOfRefund(resource);
    const doc = captureId ? await Invoice.findOne({ captureId }).lean() : null;
    if (doc && doc.organizationId === target.organizationId && typeof resource.id === 'string') {
      await confirmRefund(String(doc._id), {
        refundId: resource.id,
        amountCents: centsOf(resource.amount as { currency_code: string; value: string } | undefined) || doc.grossCents,
        source: 'webhook',
      });
    }
  }
  return { ok: true };
}
