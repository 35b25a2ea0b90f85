import type { CustomerInput, CustomerView } from '@kis/protocol/api';
import * as audit from '../audit/service.js';
import { containsText, isObjectId } from '../db/query.js';
import { NotFound } from '../errors.js';
import type { Caller } from '../identity/service.js';
import { Customer, type CustomerDoc } from './model.js';
import { billingOrganization, canBill } from './settings.js';

function view(doc: CustomerDoc): CustomerView {
  return {
    id: String(doc._id),
    organizationId: doc.organizationId,
    name: doc.name,
    email: doc.email,
    phone: doc.phone ?? '',
    reference: doc.reference ?? '',
    street: doc.street ?? '',
    postalCode: doc.postalCode ?? '',
    city: doc.city ?? '',
    createdAt: doc.createdAt.toISOString(),
  };
}

function record(caller: Caller, action: string, target: string): Promise<void> {
  return audit.record({
    action,
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target,
  });
}

/** A customer of the caller's organization, or NotFound (a foreign one looks the same as none). */
export async function loadCustomer(caller: Caller, id: string): Promise<CustomerDoc> {
  const doc = isObjectId(id) ? ((await Customer.findById(id).lean()) as CustomerDoc | null) : null;
  if (!doc || !canBill(caller, doc.organizationId)) throw new NotFound('customer_not_found');
  return doc;
}

/** One page of an organization's customers, by name; `q` searches name, e-mail and reference. */
export async function listCustomers(
  caller: Caller,
  query: { page: number; pageSize: number; q?: string | undefined; organizationId?: string | undefined },
): Promise<{ items: CustomerView[]; total: number }> {
  const org = billingOrganization(caller, query.organizationId);
  const filter: Record<string, unknown> = { organizationId: org };
  if (query.q?.trim()) {
    const q = containsText(query.q.trim());
    filter.$or = [{ name: q }, { email: q }, { reference: q }];
  }
  const [docs, total] = await Promise.all([
    Customer.find(filter)
      .sort({ name: 1, _id: 1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    Customer.countDocuments(filter),
  ]);
  return { items: (docs as CustomerDoc[]).map(view), total };
}

export async function createCustomer(
  caller: Caller,
  input: CustomerInput,
  organizationId?: string,
): Promise<CustomerView> {
  const org = billingOrganization(caller, organizationId);
  const doc = await Customer.create({ ...input, organizationId: org, createdAt: new Date(), createdBy: caller.userId });
  await record(caller, 'payments.customer_created', String(doc._id));
  return view(doc.toObject() as CustomerDoc);
}

/** Changes a customer. Issued invoices keep the customer as they were when issued. */
export async function updateCustomer(caller: Caller, id: string, input: CustomerInput): Promise<CustomerView> {
  const known = await loadCustomer(caller, id);
  const doc = (await Customer.findOneAndUpdate(
    { _id: known._id },
    { $set: input },
    { new: true },
  ).lean()) as CustomerDoc | null;
  if (!doc) throw new NotFound('customer_not_found');
  await record(caller, 'payments.customer_changed', id);
  return view(doc);
}

/** Deletes a customer; their issued invoices stay (the law keeps them), drafts go with them. */
export async function deleteCustomer(
  caller: Caller,
  id: string,
  removeDrafts: (customerId: string) => Promise<void>,
): Promise<void> {
  const known = await loadCustomer(caller, id);
  await removeDrafts(id);
  await Customer.deleteOne({ _id: known._id });
  await record(caller, 'payments.customer_deleted', id);
}
