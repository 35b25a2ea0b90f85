import { createHash, randomBytes } from 'node:crypto';
import { oneAtATime } from '../db/one-at-a-time.js';
import type { InvoiceInput, InvoiceState, InvoiceView, Issuer } from '@kis/protocol/api';
import * as audit from '../audit/service.js';
import { containsText, isDuplicateKeyError, isObjectId } from '../db/query.js';
import * as depots from '../depots/service.js';
import { Conflict, Invalid, NotFound, Unavailable } from '../errors.js';
import type { Caller } from '../identity/service.js';
import * as mail from '../mail/service.js';
import { formatWhen } from '../mail/templates.js';
import { addDays, dayIn, formatDay, formatEuro, totals } from './amounts.js';
import { loadCustomer } from './customers.js';
import { renderInvoicePdf, type InvoicePrint } from './invoice-pdf.js';
import { Customer, Invoice, InvoiceNumber, Payment, type InvoiceDoc } from './model.js';
import { PayPalError } from './paypal.js';
import { billingOrganization, canBill, credentialsOf, ctx, settingsOf } from './settings.js';

/** States in which an invoice holds money (a refund is possible). */
const PAID_STATES: ReadonlySet<string> = new Set(['paid', 'picked_up']);

/** The prefix of PIN ids that payments release: `inv-<invoice id>`, one PIN per invoice. */
const PIN_PREFIX = 'inv-';

/** Above this gross amount (§33 UStDV: 250 €) an invoice must name the recipient's address. */
const SMALL_INVOICE_CENTS = 25_000;

/**
 * Changes of one invoice, one after another in this process. FerretDB's findOneAndUpdate reads and
 * then writes, so two confirmations at the same moment (the payer's return and PayPal's webhook)
 * could both pass a guard; in line, the second sees what the first did.
 */
function withInvoice<T>(invoiceId: string, run: () => Promise<T>): Promise<T> {
  return oneAtATime(`invoice:${invoiceId}`, run);
}

function tokenContext(invoiceId: string): string {
  return `payments:invoice:${invoiceId}:token`;
}

/** sha256 of a payment link's token, as invoices are found by it. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The public payment page of an invoice. */
export function payUrlOf(doc: Pick<InvoiceDoc, '_id' | 'sealedPayToken'>): string | null {
  if (!doc.sealedPayToken) return null;
  const token = ctx()
    .box.open(doc.sealedPayToken, tokenContext(String(doc._id)))
    .toString();
  return `${ctx().publicUrl}/bezahlen/${token}`;
}

function pickupText(doc: Pick<InvoiceDoc, 'depotName' | 'depotLocation' | 'comp'>, lang: 'de' | 'en'): string | null {
  if (!doc.depotName || !doc.comp) return null;
  const place = doc.depotLocation ? `${doc.depotName} (${doc.depotLocation})` : doc.depotName;
  return lang === 'de' ? `${place}, Fach ${doc.comp}` : `${place}, compartment ${doc.comp}`;
}

/** An invoice as its owner sees it. */
export async function viewOf(doc: InvoiceDoc, pinStates?: Map<string, string>): Promise<InvoiceView> {
  const sum = totals(doc.items);
  const states = pinStates ?? (doc.pinId ? await depots.pinStates([doc.pinId]) : undefined);
  const pinState = doc.pinId ? states?.get(doc.pinId) : undefined;
  const customer = doc.customer as InvoiceView['customer'];
  return {
    id: String(doc._id),
    organizationId: doc.organizationId,
    number: doc.number ?? null,
    state: doc.state as InvoiceState,
    customer: { ...customer, id: doc.customerId },
    items: doc.items.map((i) => ({
      description: i.description,
      quantity: i.quantity,
      unitNetCents: i.unitNetCents,
      vatRate: i.vatRate as 19 | 7 | 0,
    })),
    vat: sum.vat,
    netCents: doc.netCents,
    vatCents: doc.vatCents,
    grossCents: doc.grossCents,
    currency: 'EUR',
    issueDate: doc.issueDate ?? null,
    serviceDate: doc.serviceDate ?? null,
    dueDate: doc.dueDate ?? null,
    depotId: doc.depotId ?? null,
    depotName: doc.depotName ?? null,
    comp: doc.comp ?? null,
    note: doc.note ?? '',
    payUrl: doc.state === 'open' || doc.state === 'paid' ? payUrlOf(doc) : null,
    pin:
      doc.pinId && doc.pinValidFrom && doc.pinValidUntil
        ? {
            pinId: doc.pinId,
            validFrom: doc.pinValidFrom.toISOString(),
            validUntil: doc.pinValidUntil.toISOString(),
            state: pinState ?? 'revoked',
          }
        : null,
    paidAt: doc.paidAt?.toISOString() ?? null,
    pickedUpAt: doc.pickedUpAt?.toISOString() ?? null,
    closedAt: doc.closedAt?.toISOString() ?? null,
    createdAt: doc.createdAt.toISOString(),
  };
}

function record(
  caller: Pick<Caller, 'userId' | 'email' | 'ip'> | undefined,
  action: string,
  doc: Pick<InvoiceDoc, '_id' | 'number'>,
  details: Record<string, string | number | boolean | null> = {},
): Promise<void> {
  return audit.record({
    action,
    outcome: 'success',
    actorId: caller?.userId ?? 'system:payments',
    actorEmail: caller?.email ?? 'payments',
    ip: caller?.ip ?? '',
    target: String(doc._id),
    details: { number: doc.number ?? null, ...details },
  });
}

/** An invoice of the caller's organization, or NotFound (a foreign one looks the same as none). */
async function loadInvoice(caller: Caller, id: string): Promise<InvoiceDoc> {
  const doc = isObjectId(id) ? ((await Invoice.findById(id).lean()) as InvoiceDoc | null) : null;
  if (!doc || !canBill(caller, doc.organizationId)) throw new NotFound('invoice_not_found');
  return doc;
}

/** One page of an organization's invoices, newest first; by state, or searched by number and customer. */
export async function listInvoices(
  caller: Caller,
  query: {
    page: number;
    pageSize: number;
    state?: InvoiceState | undefined;
    q?: string | undefined;
    organizationId?: string | undefined;
  },
): Promise<{ items: InvoiceView[]; total: number }> {
  const org = billingOrganization(caller, query.organizationId);
  const filter: Record<string, unknown> = { organizationId: org };
  if (query.state) filter.state = query.state;
  if (query.q?.trim()) {
    const q = containsText(query.q.trim());
    filter.$or = [{ number: q }, { 'customer.name': q }, { 'customer.reference': q }, { 'customer.email': q }];
  }
  const [docs, total] = await Promise.all([
    Invoice.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    Invoice.countDocuments(filter),
  ]);
  // The PINs' states of the whole page in one query.
  const pinStates = await depots.pinStates((docs as InvoiceDoc[]).flatMap((d) => (d.pinId ? [d.pinId] : [])));
  return { items: await Promise.all((docs as InvoiceDoc[]).map((d) => viewOf(d, pinStates))), total };
}

export async function getInvoice(caller: Caller, id: string): Promise<InvoiceView> {
  return viewOf(await loadInvoice(caller, id));
}

/** Checks a draft's content and works out its fields: customer copy, depot, totals. */
async function draftFields(caller: Caller, org: string, input: InvoiceInput): Promise<Record<string, unknown>> {
  const customer = await loadCustomer(caller, input.customerId);
  if (customer.organizationId !== org) throw new NotFound('customer_not_found');
  if ((input.depotId === undefined) !== (input.comp === undefined)) throw new Invalid('depot_and_compartment');
  let depot: { name: string; location: string } | undefined;
  if (input.depotId && input.comp) {
    const found = await depots.billableCompartment(caller, input.depotId, input.comp);
    if (found.organizationId !== org) throw new Invalid('depot_of_other_organization');
    depot = found;
  }
  const sum = totals(input.items);
  if (sum.grossCents <= 0) throw new Invalid('amount_zero');
  const settings = await settingsOf(org);
  return {
    customerId: String(customer._id),
    customer: customerCopy(customer),
    items: input.items,
    netCents: sum.netCents,
    vatCents: sum.vatCents,
    grossCents: sum.grossCents,
    dueDays: input.dueDays ?? settings.paymentTermDays,
    note: input.note,
    ...(input.serviceDate ? { serviceDate: input.serviceDate } : {}),
    ...(depot
      ? { depotId: input.depotId, comp: input.comp, depotName: depot.name, depotLocation: depot.location }
      : {}),
  };
}

function customerCopy(c: {
  name: string;
  email: string;
  phone?: string | null;
  reference?: string | null;
  street?: string | null;
  postalCode?: string | null;
  city?: string | null;
}): InvoiceView['customer'] extends infer T ? Omit<T, 'id'> : never {
  return {
    name: c.name,
    email: c.email,
    phone: c.phone ?? '',
    reference: c.reference ?? '',
    street: c.street ?? '',
    postalCode: c.postalCode ?? '',
    city: c.city ?? '',
  };
}

/** Writes a draft invoice: nothing is numbered or sent until it is issued. */
export async function createInvoice(
  caller: Caller,
  input: InvoiceInput,
  organizationId?: string,
): Promise<InvoiceView> {
  const org = billingOrganization(caller, organizationId);
  const fields = await draftFields(caller, org, input);
  const doc = await Invoice.create({
    ...fields,
    organizationId: org,
    state: 'draft',
    createdAt: new Date(),
    createdBy: caller.userId,
  });
  const created = doc.toObject() as InvoiceDoc;
  await record(caller, 'payments.invoice_created', created);
  return viewOf(created);
}

/** Changes a draft; an issued invoice is fixed (cancel it and write a new one). */
export async function updateInvoice(caller: Caller, id: string, input: InvoiceInput): Promise<InvoiceView> {
  const known = await loadInvoice(caller, id);
  if (known.state !== 'draft') throw new Conflict('invoice_not_draft');
  const fields = await draftFields(caller, known.organizationId, input);
  const unset: Record<string, 1> = {};
  for (const key of ['serviceDate', 'depotId', 'comp', 'depotName', 'depotLocation'])
    if (!(key in fields)) unset[key] = 1;
  const doc = (await Invoice.findOneAndUpdate(
    { _id: known._id, state: 'draft' },
    { $set: fields, ...(Object.keys(unset).length ? { $unset: unset } : {}) },
    { new: true },
  ).lean()) as InvoiceDoc | null;
  if (!doc) throw new Conflict('invoice_not_draft');
  await record(caller, 'payments.invoice_changed', doc);
  return viewOf(doc);
}

/** Deletes a draft (an issued invoice is never deleted; it is cancelled). */
export async function deleteDraft(caller: Caller, id: string): Promise<void> {
  const known = await loadInvoice(caller, id);
  // A draft whose issue was interrupted holds a number: it must be issued, not deleted.
  const claimed = await InvoiceNumber.exists({ invoiceId: id });
  const result = claimed ? { deletedCount: 0 } : await Invoice.deleteOne({ _id: known._id, state: 'draft' });
  if (result.deletedCount !== 1) throw new Conflict('invoice_not_draft');
  await record(caller, 'payments.invoice_deleted', known);
}

/** Removes a deleted customer's drafts. */
export async function deleteDraftsOf(customerId: string): Promise<void> {
  const drafts = await Invoice.find({ customerId, state: 'draft' }, { _id: 1 }).lean();
  for (const d of drafts) {
    if (await InvoiceNumber.exists({ invoiceId: String(d._id) })) continue;
    await Invoice.deleteOne({ _id: d._id, state: 'draft' });
  }
}

/**
 * The invoice's number: the one claimed before (an interrupted issue), or the next free one. A
 * claim is an insert with `_id` `<organization>:<seq>`: two servers cannot both take a number,
 * and the loser takes the next.
 */
async function claimNumber(org: string, invoiceId: string): Promise<number> {
  const run = async (): Promise<number> => {
    const mine = await InvoiceNumber.findOne({ invoiceId }).lean();
    if (mine) return mine.seq;
    for (;;) {
      const last = await InvoiceNumber.findOne({ organizationId: org }).sort({ seq: -1 }).lean();
      const seq = (last?.seq ?? 0) + 1;
      try {
        await InvoiceNumber.create({ _id: `${org}:${seq}`, organizationId: org, seq, invoiceId, at: new Date() });
        return seq;
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        // Another server claimed a number for this very invoice: that one it is.
        const theirs = await InvoiceNumber.findOne({ invoiceId }).lean();
        if (theirs) return theirs.seq;
      }
    }
  };
  // One organization's numbers one after another: a claim is one insert, but fewer collide.
  return oneAtATime(`numbering:${org}`, run);
}

/**
 * Issues a draft: it gets the next number of the organization's gap-free sequence, the issuer and
 * the customer as they are now, its dates and a payment link; the customer gets it by mail with
 * the PDF attached. Issuing twice issues once.
 */
export async function issueInvoice(caller: Caller, id: string): Promise<InvoiceView> {
  await loadInvoice(caller, id);
  return withInvoice(id, () => issueNow(caller, id));
}

async function issueNow(caller: Caller, id: string): Promise<InvoiceView> {
  const known = await loadInvoice(caller, id);
  if (known.state !== 'draft') {
    if (known.state === 'open') return viewOf(known);
    throw new Conflict('invoice_not_draft');
  }
  const settings = await settingsOf(known.organizationId);
  if (!settings.issuer) throw new Invalid('issuer_missing');
  const customer = await Customer.findById(known.customerId).lean();
  if (!customer) throw new Invalid('customer_not_found');
  // What §14 (4) UStG and §33 UStDV ask before a number is spent on it.
  if (known.grossCents > SMALL_INVOICE_CENTS && (!customer.street || !customer.postalCode || !customer.city))
    throw new Invalid('customer_address_required');
  if (known.items.some((i) => i.vatRate === 0) && !known.note?.trim()) throw new Invalid('vat_exemption_note_required');
  const seq = await claimNumber(known.organizationId, id);
  const number = `${settings.numberPrefix}${String(seq).padStart(5, '0')}`;
  const issueDate = dayIn(ctx().timeZone);
  const token = randomBytes(24).toString('base64url');
  const doc = (await Invoice.findOneAndUpdate(
    { _id: known._id, state: 'draft' },
    {
      $set: {
        state: 'open',
        seq,
        number,
        issuer: settings.issuer,
        customer: customerCopy(customer),
        issueDate,
        serviceDate: known.serviceDate ?? issueDate,
        dueDate: addDays(issueDate, known.dueDays),
        payTokenHash: tokenHash(token),
        sealedPayToken: ctx().box.seal(Buffer.from(token), tokenContext(id)),
      },
    },
    { new: true },
  ).lean()) as InvoiceDoc | null;
  if (!doc?.dueDate) return viewOf(await loadInvoice(caller, id));
  await mail.send({
    to: customer.email,
    lang: 'de',
    kind: 'invoice_issued',
    params: {
      number,
      issuer: settings.issuer.name,
      amount: formatEuro(doc.grossCents),
      dueDate: formatDay(doc.dueDate),
      link: payUrlOf(doc) ?? '',
      pickup: pickupText(doc, 'de') ?? '',
    },
    deferred: { source: 'invoice_pdf', ref: id },
  });
  await record(caller, 'payments.invoice_issued', doc, { grossCents: doc.grossCents });
  return viewOf(doc);
}

/** What the invoice PDF shows. */
function printOf(doc: InvoiceDoc, lang: 'de' | 'en'): InvoicePrint {
  const customer = doc.customer as InvoiceView['customer'];
  return {
    number: doc.number ?? (lang === 'de' ? 'Entwurf' : 'Draft'),
    issuer: (doc.issuer as Issuer | undefined) ?? {
      name: '—',
      street: '',
      postalCode: '',
      city: '',
      country: '',
      taxNumber: '',
      vatId: '',
      email: '',
      phone: '',
    },
    customer,
    items: doc.items,
    issueDate: doc.issueDate ?? dayIn(ctx().timeZone),
    serviceDate: doc.serviceDate ?? doc.issueDate ?? dayIn(ctx().timeZone),
    dueDate: doc.dueDate ?? addDays(dayIn(ctx().timeZone), doc.dueDays),
    note: doc.note ?? '',
    pickup: pickupText(doc, lang),
    payUrl: doc.state === 'open' ? payUrlOf(doc) : null,
    cancelled: doc.state === 'cancelled',
  };
}

/** The invoice as a PDF, for its owner. */
export async function invoicePdf(
  caller: Caller,
  id: string,
  lang: 'de' | 'en',
): Promise<{ name: string; pdf: Buffer }> {
  const doc = await loadInvoice(caller, id);
  const print = printOf(doc, lang);
  await record(caller, 'payments.invoice_downloaded', doc);
  return { name: `${print.number}.pdf`, pdf: await renderInvoicePdf(print, lang) };
}

/** Mail content made at delivery: the PDF of an issued invoice (the outbox holds only its id). */
async function invoiceAttachment(ref: string): Promise<mail.DeferredContent | undefined> {
  const doc = isObjectId(ref) ? ((await Invoice.findById(ref).lean()) as InvoiceDoc | null) : null;
  if (!doc?.number) return undefined;
  return {
    attachments: [
      {
        filename: `${doc.number}.pdf`,
        content: await renderInvoicePdf(printOf(doc, 'de'), 'de'),
        contentType: 'application/pdf',
      },
    ],
  };
}

/** Mail content made at delivery: the PIN of a paid invoice (never stored in the outbox). */
async function pinFill(ref: string): Promise<mail.DeferredContent | undefined> {
  const doc = isObjectId(ref) ? ((await Invoice.findById(ref).lean()) as InvoiceDoc | null) : null;
  if (!doc?.pinId || !PAID_STATES.has(doc.state)) return undefined;
  const pin = await depots.releasedPin(doc.pinId);
  if (!pin || pin.state === 'revoked' || pin.state === 'revoking') return undefined;
  return { fills: { pin: pin.digits } };
}

// ─── Payment, release, pick-up ───────────────────────────────────────────────────────────────────

/** A capture as KIS checks it against the invoice. */
export interface CaptureReport {
  captureId: string;
  orderId: string | undefined;
  amountCents: number;
  customId: string | undefined;
  source: 'return' | 'webhook' | 'reconcile';
}

/**
 * Books a completed capture on its invoice, once: the first report (return or webhook) moves
 * the invoice from open to paid; every report then makes sure the PIN is released and mailed.
 * A capture that does not match the invoice (amount, invoice id) is refused and logged.
 */
export function confirmCapture(invoiceId: string, capture: CaptureReport): Promise<InvoiceDoc> {
  return withInvoice(invoiceId, () => bookCapture(invoiceId, capture));
}

async function bookCapture(invoiceId: string, capture: CaptureReport): Promise<InvoiceDoc> {
  const known = isObjectId(invoiceId) ? ((await Invoice.findById(invoiceId).lean()) as InvoiceDoc | null) : null;
  if (!known) throw new NotFound('invoice_not_found');
  if (capture.customId !== invoiceId || capture.amountCents !== known.grossCents) {
    ctx().logger.warn(
      { invoiceId, captureId: capture.captureId, amountCents: capture.amountCents, source: capture.source },
      'capture does not match its invoice; not booked',
    );
    await record(undefined, 'payments.capture_mismatch', known, { captureId: capture.captureId });
    throw new Conflict('capture_mismatch');
  }
  await Payment.create({
    _id: capture.captureId,
    organizationId: known.organizationId,
    invoiceId,
    invoiceNumber: known.number ?? '',
    kind: 'capture',
    amountCents: capture.amountCents,
    ...(capture.orderId ? { orderId: capture.orderId } : {}),
    source: capture.source,
    at: new Date(),
  }).catch((err: unknown) => {
    if (!isDuplicateKeyError(err)) throw err;
  });
  const paid = (await Invoice.findOneAndUpdate(
    { _id: known._id, state: 'open' },
    { $set: { state: 'paid', captureId: capture.captureId, paidAt: new Date() } },
    { new: true },
  ).lean()) as InvoiceDoc | null;
  if (paid)
    await record(undefined, 'payments.invoice_paid', paid, { captureId: capture.captureId, via: capture.source });
  else if (known.captureId && known.captureId !== capture.captureId) {
    // A second, different payment for the same invoice: the owner must refund one.
    ctx().logger.warn({ invoiceId, captureId: capture.captureId }, 'second payment for one invoice; refund it');
    await record(undefined, 'payments.extra_capture', known, { captureId: capture.captureId });
  } else if (known.state === 'cancelled' && known.captureId !== capture.captureId) {
    // Cancelled while the payer was at PayPal: the money came in for nothing. The owner must refund
    // it; the log and the audit say so (no PIN is released for a cancelled invoice).
    ctx().logger.warn({ invoiceId, captureId: capture.captureId }, 'payment for a cancelled invoice; refund it');
    await Invoice.updateOne(
      { _id: known._id, captureId: { $exists: false } },
      { $set: { captureId: capture.captureId, paidAt: new Date() } },
    );
    await record(undefined, 'payments.capture_on_cancelled_invoice', known, { captureId: capture.captureId });
  }
  return releaseNow(invoiceId);
}

/**
 * Releases the invoice's PIN and mails it, each once: the window is fixed on the invoice first,
 * then the depot gets the PIN (idempotent by its id), then the mail is queued once. Run again after
 * an interruption, it finishes what is missing.
 */
async function releaseNow(invoiceId: string): Promise<InvoiceDoc> {
  let doc = (await Invoice.findById(invoiceId).lean()) as InvoiceDoc | null;
  if (!doc) throw new NotFound('invoice_not_found');
  if (doc.state !== 'paid' || !doc.depotId || !doc.comp) return doc;
  if (!doc.pinId) {
    const settings = await settingsOf(doc.organizationId);
    const from = new Date();
    const until = new Date(from.getTime() + settings.pinValidDays * 86_400_000);
    await Invoice.updateOne(
      { _id: doc._id, pinId: { $exists: false } },
      { $set: { pinId: `${PIN_PREFIX}${invoiceId}`, pinValidFrom: from, pinValidUntil: until } },
    );
    doc = (await Invoice.findById(invoiceId).lean()) as InvoiceDoc;
  }
  const { depotId, comp, pinId, pinValidFrom, pinValidUntil } = doc;
  if (!depotId || !comp || !pinId || !pinValidFrom || !pinValidUntil) throw new Error('release window not stored');
  // A window that closed unused: nothing to send any more (the owner sees the paid invoice).
  if (pinValidUntil.getTime() <= Date.now()) return doc;
  const customer = doc.customer as InvoiceView['customer'];
  await depots.releasePin({
    depotId,
    comp,
    pinId,
    label: `${doc.number ?? ''} ${customer.name}`.trim().slice(0, 100),
    validFrom: pinValidFrom,
    validUntil: pinValidUntil,
  });
  // The mail first, then the mark: a crash between the two sends it twice, never not at all.
  if (!doc.pinMailedAt) {
    await mail.send({
      to: customer.email,
      lang: 'de',
      kind: 'invoice_pin',
      params: {
        number: doc.number ?? '',
        issuer: (doc.issuer as Issuer | undefined)?.name ?? '',
        validFrom: formatWhen(pinValidFrom, 'de', ctx().timeZone),
        validUntil: formatWhen(pinValidUntil, 'de', ctx().timeZone),
        place: pickupText(doc, 'de') ?? '',
        link: payUrlOf(doc) ?? '',
      },
      deferred: { source: 'invoice_pin', ref: invoiceId },
    });
    await Invoice.updateOne({ _id: doc._id }, { $set: { pinMailedAt: new Date() } });
    await record(undefined, 'payments.pin_released', doc, { pinId: doc.pinId ?? null });
  }
  return (await Invoice.findById(invoiceId).lean()) as InvoiceDoc;
}

/** The key was taken with the invoice's PIN: the invoice is picked up. */
async function pinUsed(event: depots.PinEvent): Promise<void> {
  if (event.kind !== 'key_removed' || !event.pinId.startsWith(PIN_PREFIX)) return;
  // The key comes out of the invoice's own depot, whatever another depot claims.
  const doc = (await Invoice.findOneAndUpdate(
    { pinId: event.pinId, depotId: event.depotId, state: 'paid' },
    { $set: { state: 'picked_up', pickedUpAt: event.at } },
    { new: true },
  ).lean()) as InvoiceDoc | null;
  if (doc) await record(undefined, 'payments.invoice_picked_up', doc, { depotId: event.depotId });
}

/**
 * Finishes what an interruption left, one invoice at a time:
 * - paid invoices whose PIN, its `set_pin` or its mail is missing (released again, idempotently);
 * - paid invoices whose key was taken while KIS did not listen (marked picked up);
 * - cancelled and refunded invoices whose PIN still opens the compartment (revoked again).
 * Runs at start and then every minute; each query is bounded and sorted, newest first.
 */
export async function reconcile(): Promise<void> {
  const now = new Date();
  const toRelease = (await Invoice.find({
    state: 'paid',
    depotId: { $exists: true },
    $or: [{ pinValidUntil: { $exists: false } }, { pinValidUntil: { $gt: now } }],
  })
    .sort({ paidAt: -1 })
    .limit(200)
    .lean()) as InvoiceDoc[];
  for (const doc of toRelease) {
    const id = String(doc._id);
    try {
      await withInvoice(id, () => releaseNow(id));
      if (doc.pinId && doc.depotId && doc.paidAt) {
        const at = await depots.firstPinEvent(doc.depotId, doc.pinId, 'key_removed', doc.paidAt);
        if (at)
          await pinUsed({ depotId: doc.depotId, pinId: doc.pinId, kind: 'key_removed', comp: doc.comp ?? null, at });
      }
    } catch (err) {
      ctx().logger.warn({ err, invoiceId: id }, 'reconciling a paid invoice failed; next round');
    }
  }
  const closed = (await Invoice.find({
    state: { $in: ['cancelled', 'refunded'] },
    pinId: { $exists: true },
    pinValidUntil: { $gt: now },
  })
    .sort({ closedAt: -1 })
    .limit(200)
    .lean()) as InvoiceDoc[];
  for (const doc of closed) {
    if (doc.pinId && (await depots.pinStillValid(doc.pinId))) {
      await depots
        .revokeReleasedPin(doc.pinId)
        .catch((err: unknown) => ctx().logger.warn({ err, invoiceId: String(doc._id) }, 'revoking again failed'));
    }
  }
}

let reconciler: NodeJS.Timeout | undefined;

/** Hooks the payments module into depots and mail, and starts the reconciliation job. */
export function start(options: { reconcileMs?: number; alsoReconcile?: () => Promise<void> } = {}): void {
  depots.onPinEvent(pinUsed);
  mail.registerDeferredSource('invoice_pdf', invoiceAttachment);
  mail.registerDeferredSource('invoice_pin', pinFill);
  const round = async (): Promise<void> => {
    await reconcile();
    await options.alsoReconcile?.();
  };
  const failed = (err: unknown): void => ctx().logger.warn({ err }, 'payments reconciliation failed');
  void round().catch(failed);
  reconciler = setInterval(() => void round().catch(failed), options.reconcileMs ?? 60_000);
  reconciler.unref();
}

export function stop(): void {
  clearInterval(reconciler);
  reconciler = undefined;
}

// ─── Cancel and refund ───────────────────────────────────────────────────────────────────────────

/** Cancels an open invoice: it can no longer be paid; the customer is told. */
export async function cancelInvoice(caller: Caller, id: string): Promise<InvoiceView> {
  await loadInvoice(caller, id);
  return withInvoice(id, () => cancelNow(caller, id));
}

async function cancelNow(caller: Caller, id: string): Promise<InvoiceView> {
  const known = await loadInvoice(caller, id);
  if (PAID_STATES.has(known.state)) throw new Conflict('invoice_paid_refund_first');
  const doc = (await Invoice.findOneAndUpdate(
    { _id: known._id, state: 'open' },
    { $set: { state: 'cancelled', closedAt: new Date() } },
    { new: true },
  ).lean()) as InvoiceDoc | null;
  if (!doc) throw new Conflict('invoice_not_open');
  // A payment in flight that completes now finds the invoice cancelled: the PIN is revoked anyway.
  if (doc.pinId) await depots.revokeReleasedPin(doc.pinId);
  const customer = doc.customer as InvoiceView['customer'];
  await mail.send({
    to: customer.email,
    lang: 'de',
    kind: 'invoice_cancelled',
    params: { number: doc.number ?? '', issuer: (doc.issuer as Issuer | undefined)?.name ?? '' },
  });
  await record(caller, 'payments.invoice_cancelled', doc);
  return viewOf(doc);
}

/**
 * Books a refund (made here or in PayPal's dashboard): the invoice is refunded and its PIN revoked,
 * once however often it is reported.
 */
export function confirmRefund(
  invoiceId: string,
  refund: { refundId: string | undefined; amountCents: number; source: 'owner' | 'webhook' },
  caller?: Caller,
): Promise<InvoiceDoc> {
  return withInvoice(invoiceId, () => bookRefund(invoiceId, refund, caller));
}

async function bookRefund(
  invoiceId: string,
  refund: { refundId: string | undefined; amountCents: number; source: 'owner' | 'webhook' },
  caller?: Caller,
): Promise<InvoiceDoc> {
  const known = (await Invoice.findById(invoiceId).lean()) as InvoiceDoc | null;
  if (!known) throw new NotFound('invoice_not_found');
  // A refund learnt of without its id (made in PayPal's dashboard before) is recorded by the
  // webhook that brings the id.
  if (refund.refundId)
    await Payment.create({
      _id: refund.refundId,
      organizationId: known.organizationId,
      invoiceId,
      invoiceNumber: known.number ?? '',
      kind: 'refund',
      amountCents: -Math.abs(refund.amountCents),
      source: refund.source,
      at: new Date(),
    }).catch((err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err;
    });
  if (Math.abs(refund.amountCents) < known.grossCents) {
    // Part of the money back (a goodwill refund in PayPal's dashboard): the invoice stays paid.
    await record(caller, 'payments.partial_refund', known, {
      refundId: refund.refundId ?? null,
      cents: refund.amountCents,
    });
    return known;
  }
  const doc = (await Invoice.findOneAndUpdate(
    {
      _id: known._id,
      $or: [{ state: { $in: [...PAID_STATES] } }, { state: 'cancelled', captureId: { $exists: true } }],
    },
    { $set: { state: 'refunded', closedAt: new Date() } },
    { new: true },
  ).lean()) as InvoiceDoc | null;
  if (!doc) return known;
  if (doc.pinId) await depots.revokeReleasedPin(doc.pinId);
  const customer = doc.customer as InvoiceView['customer'];
  await mail.send({
    to: customer.email,
    lang: 'de',
    kind: 'invoice_refunded',
    params: {
      number: doc.number ?? '',
      issuer: (doc.issuer as Issuer | undefined)?.name ?? '',
      amount: formatEuro(Math.abs(refund.amountCents)),
    },
  });
  await record(caller, 'payments.invoice_refunded', doc, { refundId: refund.refundId ?? null, via: refund.source });
  return doc;
}

/** Refunds a paid invoice in full through PayPal and revokes its PIN. */
export async function refundInvoice(caller: Caller, id: string): Promise<InvoiceView> {
  const known = await loadInvoice(caller, id);
  if (known.state === 'refunded') return viewOf(known);
  // A cancelled invoice that was paid anyway (cancelled while the payer was at PayPal) is refunded too.
  if (!known.captureId || !(PAID_STATES.has(known.state) || known.state === 'cancelled'))
    throw new Conflict('invoice_not_paid');
  const creds = await credentialsOf(known.organizationId);
  if (!creds) throw new Invalid('paypal_not_configured');
  let refundId: string | undefined;
  try {
    refundId = (await ctx().paypal.refundCapture(creds, known.captureId, `kis-refund-${id}`)).id;
  } catch (err) {
    if (err instanceof PayPalError && err.failure !== 'unavailable' && err.issue === 'CAPTURE_FULLY_REFUNDED') {
      refundId = undefined;
    } else if (err instanceof PayPalError && err.failure !== 'unavailable') {
      throw new Conflict('refund_refused', err.message);
    } else throw new Unavailable('payment_provider_unavailable');
  }
  return viewOf(await confirmRefund(id, { refundId, amountCents: known.grossCents, source: 'owner' }, caller));
}

/** The invoice a payment link's token opens (no account: the token is the key). */
export async function invoiceByToken(token: string): Promise<InvoiceDoc | undefined> {
  const doc = (await Invoice.findOne({ payTokenHash: tokenHash(token) }).lean()) as InvoiceDoc | null;
  return doc ?? undefined;
}
