import type { InvoiceState, InvoiceView } from '@kis/protocol/api';
import * as audit from '../audit/service.js';
import type { Caller } from '../identity/service.js';
import * as reports from '../reports/service.js';
import { Invoice, Payment, type InvoiceDoc, type PaymentDoc } from './model.js';
import { billingOrganization } from './settings.js';
import { containsText } from '../db/query.js';

/** Rows read from the database per round trip while an export streams. */
const BATCH = 1000;

const STATES: Readonly<Record<InvoiceState, reports.Bilingual>> = {
  draft: { de: 'Entwurf', en: 'Draft' },
  open: { de: 'Offen', en: 'Open' },
  paid: { de: 'Bezahlt', en: 'Paid' },
  picked_up: { de: 'Abgeholt', en: 'Picked up' },
  cancelled: { de: 'Storniert', en: 'Cancelled' },
  refunded: { de: 'Erstattet', en: 'Refunded' },
};

/** How KIS learned of a payment, in words (the export's "Reported by"). */
const SOURCES: Readonly<Record<string, reports.Bilingual>> = {
  return: { de: 'Rückkehr des Zahlers', en: "Payer's return" },
  webhook: { de: 'PayPal-Benachrichtigung', en: 'PayPal notification' },
  owner: { de: 'Depotbetreiber', en: 'Depot owner' },
  reconcile: { de: 'Abgleich mit PayPal', en: 'Reconciliation with PayPal' },
};

export interface InvoiceRow extends Record<string, unknown> {
  number: string;
  issueDate: string;
  customer: string;
  reference: string;
  state: reports.Bilingual;
  net: reports.MoneyCell;
  vat: reports.MoneyCell;
  gross: reports.MoneyCell;
  dueDate: string;
  paidAt: Date | '';
  pickedUpAt: Date | '';
}

export interface PaymentRow extends Record<string, unknown> {
  at: Date;
  kind: reports.Bilingual;
  invoice: string;
  amount: reports.MoneyCell;
  reference: string;
  source: reports.Bilingual;
}

/** Reads a query through a cursor in batches, closing it when the reader leaves. */
async function* stream<D, R>(
  cursor: AsyncIterable<D> & { close(): Promise<unknown> },
  row: (doc: D) => R,
): AsyncGenerator<R> {
  try {
    for await (const doc of cursor) yield row(doc);
  } finally {
    await cursor.close();
  }
}

/** An organization's invoices as a table export, with the list's filters (drafts left out unless asked). */
export async function invoicesForExport(
  caller: Caller,
  filters: { state?: InvoiceState | undefined; q?: string | undefined; organizationId?: string | undefined },
): Promise<reports.TableExport<InvoiceRow>> {
  const org = billingOrganization(caller, filters.organizationId);
  const query: Record<string, unknown> = { organizationId: org, state: filters.state ?? { $ne: 'draft' } };
  const shown: Array<string | reports.Bilingual> = [];
  if (filters.state) shown.push(STATES[filters.state]);
  if (filters.q?.trim()) {
    const q = containsText(filters.q.trim());
    query.$or = [{ number: q }, { 'customer.name': q }, { 'customer.reference': q }, { 'customer.email': q }];
    shown.push(`„${filters.q.trim()}“`);
  }
  await audit.record({
    action: 'payments.invoices_exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: org,
    details: { state: filters.state ?? null },
  });
  const total = await Invoice.countDocuments(query);
  const cursor = Invoice.find(query).sort({ seq: 1, createdAt: 1 }).lean().cursor({ batchSize: BATCH });
  return {
    name: 'rechnungen',
    title: { de: 'Rechnungen', en: 'Invoices' },
    filters: shown,
    total,
    columns: [
      { key: 'number', header: { de: 'Nummer', en: 'Number' }, width: 1 },
      { key: 'issueDate', header: { de: 'Datum', en: 'Date' }, width: 1 },
      { key: 'customer', header: { de: 'Kunde', en: 'Customer' }, width: 2 },
      { key: 'reference', header: { de: 'Referenz', en: 'Reference' }, width: 1 },
      { key: 'state', header: { de: 'Status', en: 'State' }, width: 1 },
      { key: 'net', header: { de: 'Netto (EUR)', en: 'Net (EUR)' }, width: 1 },
      { key: 'vat', header: { de: 'USt (EUR)', en: 'VAT (EUR)' }, width: 1 },
      { key: 'gross', header: { de: 'Brutto (EUR)', en: 'Gross (EUR)' }, width: 1 },
      { key: 'dueDate', header: { de: 'Fällig', en: 'Due' }, width: 1 },
      { key: 'paidAt', header: { de: 'Bezahlt', en: 'Paid' }, width: 1.5 },
      { key: 'pickedUpAt', header: { de: 'Abgeholt', en: 'Picked up' }, width: 1.5 },
    ],
    rows: stream(cursor, (raw) => {
      const d = raw as unknown as InvoiceDoc;
      const customer = d.customer as InvoiceView['customer'];
      return {
        number: d.number ?? '',
        issueDate: d.issueDate ?? '',
        customer: customer.name,
        reference: customer.reference,
        state: STATES[d.state as InvoiceState],
        net: reports.money(d.netCents),
        vat: reports.money(d.vatCents),
        gross: reports.money(d.grossCents),
        dueDate: d.dueDate ?? '',
        paidAt: d.paidAt ?? '',
        pickedUpAt: d.pickedUpAt ?? '',
      };
    }),
  };
}

/** An organization's payments (captures and refunds) as a table export, oldest first, in a time window. */
export async function paymentsForExport(
  caller: Caller,
  filters: { from?: string | undefined; to?: string | undefined; organizationId?: string | undefined },
): Promise<reports.TableExport<PaymentRow>> {
  const org = billingOrganization(caller, filters.organizationId);
  const query: Record<string, unknown> = { organizationId: org };
  if (filters.from || filters.to) {
    query.at = {
      ...(filters.from ? { $gte: new Date(filters.from) } : {}),
      ...(filters.to ? { $lt: new Date(filters.to) } : {}),
    };
  }
  await audit.record({
    action: 'payments.payments_exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: org,
  });
  const total = await Payment.countDocuments(query);
  const cursor = Payment.find(query).sort({ at: 1, _id: 1 }).lean().cursor({ batchSize: BATCH });
  return {
    name: 'zahlungen',
    title: { de: 'Zahlungen', en: 'Payments' },
    period: {
      from: filters.from ? new Date(filters.from) : undefined,
      to: filters.to ? new Date(filters.to) : undefined,
    },
    filters: [],
    total,
    columns: [
      { key: 'at', header: { de: 'Zeit', en: 'Time' }, width: 1.5 },
      { key: 'kind', header: { de: 'Art', en: 'Kind' }, width: 1 },
      { key: 'invoice', header: { de: 'Rechnung', en: 'Invoice' }, width: 1 },
      { key: 'amount', header: { de: 'Betrag (EUR)', en: 'Amount (EUR)' }, width: 1 },
      { key: 'reference', header: { de: 'PayPal-ID', en: 'PayPal id' }, width: 2 },
      { key: 'source', header: { de: 'Gemeldet durch', en: 'Reported by' }, width: 1 },
    ],
    rows: stream(cursor, (raw) => {
      const d = raw as unknown as PaymentDoc & { _id: string };
      return {
        at: d.at,
        kind: d.kind === 'capture' ? { de: 'Zahlung', en: 'Payment' } : { de: 'Erstattung', en: 'Refund' },
        invoice: d.invoiceNumber,
        amount: reports.money(d.amountCents),
        reference: d._id,
        source: SOURCES[d.source] ?? { de: d.source, en: d.source },
      };
    }),
  };
}
