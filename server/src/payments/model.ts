import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** An organization's invoicing and PayPal settings; `_id` is the organization id. */
const settingsSchema = new Schema(
  {
    _id: { type: String, required: true },
    issuer: {
      type: new Schema(
        {
          name: String,
          street: String,
          postalCode: String,
          city: String,
          country: String,
          taxNumber: String,
          vatId: String,
          email: String,
          phone: String,
        },
        { _id: false },
      ),
    },
    numberPrefix: { type: String, required: true, default: 'RE-' },
    paymentTermDays: { type: Number, required: true, default: 14 },
    pinValidDays: { type: Number, required: true, default: 7 },
    paypal: {
      type: new Schema(
        {
          clientId: { type: String, required: true },
          /** The client secret, sealed with the master key (context `payments:<org>:paypal`). */
          sealedSecret: { type: String, required: true },
          secretHint: { type: String, required: true },
          mode: { type: String, enum: ['sandbox', 'live'], required: true },
          webhookId: { type: String, default: '' },
          webhookError: { type: String },
        },
        { _id: false },
      ),
    },
    /** Random, in the webhook's URL: tells whose credentials verify a delivery. */
    webhookKey: { type: String, required: true, unique: true },
    updatedAt: { type: Date, required: true },
  },
  { collection: 'payment_settings', versionKey: false, _id: false },
);
export type SettingsDoc = InferSchemaType<typeof settingsSchema>;
export const PaymentSettings = mongoose.model('PaymentSettings', settingsSchema);

const customerSchema = new Schema(
  {
    organizationId: { type: String, required: true },
    name: { type: String, required: true },
    email: { type: String, required: true },
    phone: { type: String, default: '' },
    reference: { type: String, default: '' },
    street: { type: String, default: '' },
    postalCode: { type: String, default: '' },
    city: { type: String, default: '' },
    createdAt: { type: Date, required: true },
    createdBy: { type: String },
  },
  { collection: 'customers', versionKey: false },
);
customerSchema.index({ organizationId: 1, name: 1 });
customerSchema.index({ email: 1 });
export type CustomerDoc = InferSchemaType<typeof customerSchema> & { _id: mongoose.Types.ObjectId };
export const Customer = mongoose.model('Customer', customerSchema);

const itemSchema = new Schema(
  {
    description: { type: String, required: true },
    quantity: { type: Number, required: true },
    unitNetCents: { type: Number, required: true },
    vatRate: { type: Number, required: true },
  },
  { _id: false },
);

/**
 * An invoice. A draft can change; from `open` on, what it says is fixed (the issuer and the
 * customer are copied in), only its state moves: open → paid → picked_up, or cancelled/refunded.
 */
const invoiceSchema = new Schema(
  {
    organizationId: { type: String, required: true },
    state: {
      type: String,
      enum: ['draft', 'open', 'paid', 'picked_up', 'cancelled', 'refunded'],
      required: true,
    },
    /** The sequential number, claimed in `invoice_numbers` when the invoice is issued. */
    seq: { type: Number },
    number: { type: String },
    customerId: { type: String, required: true },
    customer: { type: Schema.Types.Mixed, required: true },
    issuer: { type: Schema.Types.Mixed },
    items: { type: [itemSchema], required: true },
    netCents: { type: Number, required: true },
    vatCents: { type: Number, required: true },
    grossCents: { type: Number, required: true },
    issueDate: { type: String },
    serviceDate: { type: String },
    dueDays: { type: Number, required: true },
    dueDate: { type: String },
    depotId: { type: String },
    /** The depot's name and place when the invoice was written: printed, and shown on the payment page. */
    depotName: { type: String },
    depotLocation: { type: String },
    comp: { type: Number },
    note: { type: String, default: '' },
    /** sha256 of the payment link's token: the link finds the invoice, the database alone does not give the link. */
    payTokenHash: { type: String },
    /** The token itself, sealed, so the owner can show or resend the link. */
    sealedPayToken: { type: String },
    /** The PayPal order in progress, and how many were made (each order gets its own request id). */
    orderId: { type: String },
    orderAttempt: { type: Number, default: 0 },
    /** When the current order was made: the reconciliation reads orders the payer did not come back from. */
    orderAt: { type: Date },
    captureId: { type: String },
    paidAt: { type: Date },
    /** The PIN released on payment (an id in depot_pins) and its window. */
    pinId: { type: String },
    pinValidFrom: { type: Date },
    pinValidUntil: { type: Date },
    /** The PIN mail went out (or was queued): sent once, however often payment is confirmed. */
    pinMailedAt: { type: Date },
    pickedUpAt: { type: Date },
    closedAt: { type: Date },
    createdAt: { type: Date, required: true },
    createdBy: { type: String },
  },
  { collection: 'invoices', versionKey: false },
);
invoiceSchema.index({ organizationId: 1, createdAt: -1 });
invoiceSchema.index({ payTokenHash: 1 });
invoiceSchema.index({ state: 1 });
invoiceSchema.index({ pinId: 1 });
invoiceSchema.index({ state: 1, orderAt: -1 });
export type InvoiceDoc = Omit<InferSchemaType<typeof invoiceSchema>, 'items'> & {
  _id: mongoose.Types.ObjectId;
  items: Array<{ description: string; quantity: number; unitNetCents: number; vatRate: number }>;
};
export const Invoice = mongoose.model('Invoice', invoiceSchema);

/**
 * The claimed invoice numbers: `_id` is `<organization>:<seq>`, so two invoices can never get the
 * same number (an insert with a taken `_id` fails on every database), and the claim names its
 * invoice, so an issue interrupted after the claim finds its number again: no gaps.
 */
const numberSchema = new Schema(
  {
    _id: { type: String, required: true },
    organizationId: { type: String, required: true },
    seq: { type: Number, required: true },
    invoiceId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'invoice_numbers', versionKey: false, _id: false },
);
numberSchema.index({ organizationId: 1, seq: -1 });
numberSchema.index({ invoiceId: 1 }, { unique: true });
export const InvoiceNumber = mongoose.model('InvoiceNumber', numberSchema);

/**
 * Money that moved: captures and refunds as PayPal reported them. `_id` is PayPal's id, so the same
 * capture reported by the return and by the webhook is one record.
 */
const paymentSchema = new Schema(
  {
    _id: { type: String, required: true },
    organizationId: { type: String, required: true },
    invoiceId: { type: String, required: true },
    invoiceNumber: { type: String, required: true },
    kind: { type: String, enum: ['capture', 'refund'], required: true },
    amountCents: { type: Number, required: true },
    orderId: { type: String },
    /** How KIS learned of it: the payer's return, PayPal's webhook, or the owner's refund. */
    source: { type: String, enum: ['return', 'webhook', 'owner', 'reconcile'], required: true },
    at: { type: Date, required: true },
  },
  { collection: 'payments', versionKey: false, _id: false },
);
paymentSchema.index({ organizationId: 1, at: -1 });
paymentSchema.index({ invoiceId: 1 });
export type PaymentDoc = InferSchemaType<typeof paymentSchema>;
export const Payment = mongoose.model('Payment', paymentSchema);
