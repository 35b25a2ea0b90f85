import { Customer, Invoice, InvoiceNumber, Payment, PaymentSettings } from './model.js';
import * as checkout from './checkout.js';
import * as invoices from './invoices.js';
import { initContext, type PaymentsContext } from './settings.js';

/**
 * The payments module's door: depot owners bill their customers, customers pay through PayPal,
 * payment releases a PIN. Settings live in settings.ts, customers in customers.ts, invoices and
 * their life in invoices.ts, the public payment page and PayPal's webhook in checkout.ts.
 */
export type { PaymentsContext };
export { listInvoices, getInvoice } from './invoices.js';

/** Sets up the module: its context and its collections' indexes. */
export async function init(context: PaymentsContext): Promise<void> {
  initContext(context);
  await Promise.all([
    PaymentSettings.createIndexes(),
    Customer.createIndexes(),
    Invoice.createIndexes(),
    InvoiceNumber.createIndexes(),
    Payment.createIndexes(),
  ]);
}

/** Follows depot events (pick-up), serves mail content, and reconciles paid invoices every minute. */
export function start(options: { reconcileMs?: number } = {}): void {
  invoices.start({ ...options, alsoReconcile: () => checkout.reconcileOrders() });
}

export function stop(): void {
  invoices.stop();
}
