import * as depots from '../depots/service.js';
import { Customer, Invoice, type InvoiceDoc } from './model.js';
import { sameText } from '../db/query.js';

/**
 * What payments erase of a person (by the address they were billed at). Invoices that were issued
 * stay, as §147 AO and §14b UStG require (ten years): reduced to what an invoice must name, the
 * customer's name and address; their e-mail, phone and reference go, and the payment link dies.
 */

/** Until when the person still has an open invoice (its due date) or a valid PIN from a payment. */
export async function activeUntil(email: string): Promise<Date | undefined> {
  const invoices = (await Invoice.find({
    'customer.email': sameText(email),
    state: { $in: ['open', 'paid'] },
  }).lean()) as InvoiceDoc[];
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
): Promise<{ customers: number; drafts: number; cancelled: number; kept: number }> {
  const address = sameText(email);
  const drafts = (await Invoice.deleteMany({ 'customer.email': address, state: 'draft' })).deletedCount;
  const cancelled = (
    await Invoice.updateMany(
      { 'customer.email': address, state: 'open' },
      { $set: { state: 'cancelled', closedAt: new Date() } },
    )
  ).modifiedCount;
  for (const inv of await Invoice.find({ 'customer.email': address, pinId: { $exists: true } }, { pinId: 1 }).lean())
    if (inv.pinId) await depots.revokeReleasedPin(inv.pinId);
  const kept = (
    await Invoice.updateMany(
      { 'customer.email': address },
      {
        $set: { 'customer.email': pseudonym, 'customer.phone': '', 'customer.reference': '' },
        $unset: { payTokenHash: 1, sealedPayToken: 1 },
      },
    )
  ).modifiedCount;
  const customers = (await Customer.deleteMany({ email: address })).deletedCount;
  return { customers, drafts, cancelled, kept };
}

/** What payments hold about a person (customer records and invoices to their address), for their data export. */
export async function personalDataForExport(email: string): Promise<Record<string, unknown>> {
  const address = sameText(email);
  const [customers, invoices] = await Promise.all([
    Customer.find({ email: address }).lean(),
    Invoice.find({ 'customer.email': address, state: { $ne: 'draft' } }, { sealedPayToken: 0, payTokenHash: 0 }).lean(),
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
