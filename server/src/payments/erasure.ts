import * as depots from '../depots/service.js';
import { Customer, Invoice, type InvoiceDoc } from './model.js';
import { sameText } from '../db/query.js';

/**
 * What payments erase of a person (by the address they were billed at). Invoices that were issued
 * stay, as §147 AO and §14b UStG require (ten years): reduced to what an invoice must name, the
 * customer's name and address; their e-mail, phone and reference go, and the payment link dies.
 */

/**
 * Whose records a request about an address may touch: every company's (an operator's erasure, a
 * revocation confirmed by a code mailed to the address, an account whose address is proven), or
 * only one company's, the caller's own (`null`: none). An account acting for itself never reaches
 * another company's customer records by holding an address it never proved.
 */
export type RecordScope = { organizationId: string | null } | 'everywhere';

function scoped(filter: Record<string, unknown>, scope: RecordScope): Record<string, unknown> | null {
  if (scope === 'everywhere') return filter;
  return scope.organizationId ? { ...filter, organizationId: scope.organizationId } : null;
}

/** Until when the person still has an open invoice (its due date) or a valid PIN from a payment. */
export async function activeUntil(email: string, scope: RecordScope = 'everywhere'): Promise<Date | undefined> {
  const filter = scoped({ 'customer.email': sameText(email), state: { $in: ['open', 'paid'] } }, scope);
  if (!filter) return undefined;
  const invoices = (await Invoice.find(filter).lean()) as InvoiceDoc[];
  let until: Date | undefined;
  const now = Date.now();
  for (const inv of invoices) {
    const end =
      inv.state === 'open' && inv.dueDate
        ? new Date(`${inv.dueDate}T23:59:59Z`)
        : inv.state === 'paid' && inv.pinValidUntil
          ? inv.pinValidUntil
          : undefined;
    if (end && end.getTime() > now && (!until || end > until)) until = end;
  }
  return until;
}

/** Erases a person from payments; returns what was done, for the request's report. */
export async function erasePerson(
  email: string,
  pseudonym: string,
  scope: RecordScope = 'everywhere',
): Promise<{ customers: number; drafts: number; cancelled: number; kept: number }> {
  const invoices = scoped({ 'customer.email': sameText(email) }, scope);
  const customerRecords = scoped({ email: sameText(email) }, scope);
  if (!invoices || !customerRecords) return { customers: 0, drafts: 0, cancelled: 0, kept: 0 };
  const drafts = (await Invoice.deleteMany({ ...invoices, state: 'draft' })).deletedCount;
  const cancelled = (
    await Invoice.updateMany({ ...invoices, state: 'open' }, { $set: { state: 'cancelled', closedAt: new Date() } })
  ).modifiedCount;
  for (const inv of await Invoice.find({ ...invoices, pinId: { $exists: true } }, { pinId: 1 }).lean())
    if (inv.pinId) await depots.revokeReleasedPin(inv.pinId);
  const kept = (
    await Invoice.updateMany(invoices, {
      $set: { 'customer.email': pseudonym, 'customer.phone': '', 'customer.reference': '' },
      $unset: { payTokenHash: 1, sealedPayToken: 1 },
    })
  ).modifiedCount;
  const customers = (await Customer.deleteMany(customerRecords)).deletedCount;
  return { customers, drafts, cancelled, kept };
}

/** What payments hold about a person (customer records and invoices to their address), for their data export. */
export async function personalDataForExport(
  email: string,
  scope: RecordScope = 'everywhere',
): Promise<Record<string, unknown>> {
  const customerRecords = scoped({ email: sameText(email) }, scope);
  const invoiceRecords = scoped({ 'customer.email': sameText(email), state: { $ne: 'draft' } }, scope);
  const [customers, invoices] = await Promise.all([
    customerRecords ? Customer.find(customerRecords).lean() : [],
    invoiceRecords ? Invoice.find(invoiceRecords, { sealedPayToken: 0, payTokenHash: 0 }).lean() : [],
  ]);
  return {
    customerRecords: customers.map((c) => ({
      organizationId: c.organizationId,
      name: c.name,
      email: c.email,
      phone: c.phone,
      reference: c.reference,
      street: c.street,
      postalCode: c.postalCode,
      city: c.city,
      createdAt: c.createdAt,
    })),
    invoices: (invoices as InvoiceDoc[]).map((i) => ({
      number: i.number,
      state: i.state,
      issuer: i.issuer,
      customer: i.customer,
      items: i.items,
      netCents: i.netCents,
      vatCents: i.vatCents,
      grossCents: i.grossCents,
      issueDate: i.issueDate,
      dueDate: i.dueDate,
      paidAt: i.paidAt ?? null,
      pickedUpAt: i.pickedUpAt ?? null,
    })),
  };
}
