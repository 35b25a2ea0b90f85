import { z } from 'zod';
import { depotIdSchema } from './depots.js';
import { pageQuerySchema } from './identity.js';
import { atLeast, atMost } from '../length.js';

/**
 * Payments: a depot owner bills its customers; a customer pays an invoice online through PayPal
 * and gets a one-use PIN for the compartment that holds the key. Money is in euro cents
 * (integers), so nothing is lost to floating point.
 */

const cents = z.number().int().min(0).max(100_000_000);
const trimmed = (max: number) => z.string().trim().check(atMost(max));

// ─── Settings ───────────────────────────────────────────────────────────────────────────────────

/** Who issues the invoices: what §14 UStG asks an invoice to name about its issuer. */
export const issuerSchema = z.object({
  name: trimmed(120).check(atLeast(1)),
  street: trimmed(120).check(atLeast(1)),
  postalCode: trimmed(12).check(atLeast(1)),
  city: trimmed(80).check(atLeast(1)),
  country: trimmed(60).default('Deutschland'),
  /** Steuernummer; an invoice needs it or the USt-IdNr. */
  taxNumber: trimmed(40).default(''),
  /** Umsatzsteuer-Identifikationsnummer, e.g. DE123456789. */
  vatId: trimmed(20).default(''),
  email: trimmed(254).default(''),
  phone: trimmed(40).default(''),
});
export type Issuer = z.infer<typeof issuerSchema>;

export const PAYPAL_MODES = ['sandbox', 'live'] as const;

export const paymentSettingsUpdateSchema = z.object({
  issuer: issuerSchema.refine((i) => i.taxNumber !== '' || i.vatId !== '', {
    message: 'an invoice needs the tax number or the VAT id',
    path: ['taxNumber'],
  }),
  /** Printed before the sequential number: RE-00001. */
  numberPrefix: z
    .string()
    .check(atMost(12))
    .regex(/^[A-Za-z0-9-/_]*$/, 'letters, digits, - / _')
    .default('RE-'),
  paymentTermDays: z.number().int().min(0).max(120).default(14),
  /** Days a released PIN stays valid. */
  pinValidDays: z.number().int().min(1).max(90).default(7),
  paypal: z
    .object({
      clientId: trimmed(200).check(atLeast(1)),
      /** Empty keeps the stored secret. */
      secret: z.string().check(atMost(200)).default(''),
      mode: z.enum(PAYPAL_MODES).default('sandbox'),
      /** The id of a webhook made in PayPal's dashboard; empty lets KIS register its own. */
      webhookId: trimmed(100).default(''),
    })
    .nullable(),
  /**
   * The caller's own password again: required when the PayPal credentials change (set up, another
   * client id, mode or secret, removed), since they decide who gets paid.
   */
  password: z.string().check(atMost(1024)).optional(),
});
export type PaymentSettingsUpdate = z.infer<typeof paymentSettingsUpdateSchema>;

export const paymentSettingsSchema = z.object({
  organizationId: z.string(),
  issuer: issuerSchema.nullable(),
  numberPrefix: z.string(),
  paymentTermDays: z.number(),
  pinValidDays: z.number(),
  paypal: z
    .object({
      clientId: z.string(),
      /** Never the secret: its last four characters, so the owner recognises it. */
      secretHint: z.string(),
      mode: z.enum(PAYPAL_MODES),
      webhookId: z.string(),
      /** Why KIS could not register its webhook; payments still work through the return path. */
      webhookError: z.string().nullable(),
    })
    .nullable(),
  /** Invoices can be issued: issuer and PayPal are set. */
  ready: z.boolean(),
});
export type PaymentSettings = z.infer<typeof paymentSettingsSchema>;

export const connectionTestSchema = z.object({
  ok: z.boolean(),
  /** Stable code when not ok: paypal_auth_failed, payment_provider_unavailable. */
  code: z.string().nullable(),
  mode: z.enum(PAYPAL_MODES).nullable(),
});

// ─── Customers ──────────────────────────────────────────────────────────────────────────────────

export const customerInputSchema = z.object({
  name: trimmed(120).check(atLeast(1)),
  email: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.email().check(atMost(254))),
  phone: trimmed(40).default(''),
  /** What the owner knows the customer by, e.g. a number plate. */
  reference: trimmed(60).default(''),
  street: trimmed(120).default(''),
  postalCode: trimmed(12).default(''),
  city: trimmed(80).default(''),
});
export type CustomerInput = z.infer<typeof customerInputSchema>;

export const customerViewSchema = customerInputSchema.extend({
  id: z.string(),
  organizationId: z.string(),
  createdAt: z.string(),
});
export type CustomerView = z.infer<typeof customerViewSchema>;
export const customerListQuerySchema = pageQuerySchema.extend({
  q: z.string().check(atMost(100)).optional(),
  organizationId: z.string().check(atMost(40)).optional(),
});
export const customerListSchema = z.object({ items: z.array(customerViewSchema), total: z.number() });

// ─── Invoices ───────────────────────────────────────────────────────────────────────────────────

export const VAT_RATES = [19, 7, 0] as const;
export const INVOICE_STATES = ['draft', 'open', 'paid', 'picked_up', 'cancelled', 'refunded'] as const;
export type InvoiceState = (typeof INVOICE_STATES)[number];

export const invoiceItemSchema = z.object({
  description: trimmed(200).check(atLeast(1)),
  /** Thousandths of a unit, so 1.5 hours is 1500. */
  quantity: z.number().int().min(1).max(10_000_000),
  unitNetCents: cents,
  vatRate: z.union([z.literal(19), z.literal(7), z.literal(0)]),
});
export type InvoiceItem = z.infer<typeof invoiceItemSchema>;

export const invoiceInputSchema = z.object({
  customerId: z.string().check(atMost(40)),
  items: z.array(invoiceItemSchema).check(atLeast(1)).check(atMost(50)),
  /** Leistungsdatum, YYYY-MM-DD; defaults to the issue date. */
  serviceDate: z.iso.date().optional(),
  /** Days until due; the organization's term by default. */
  dueDays: z.number().int().min(0).max(120).optional(),
  /** Where the key waits: payment releases a PIN for this compartment. */
  depotId: depotIdSchema.optional(),
  comp: z.number().int().min(1).max(255).optional(),
  note: trimmed(500).default(''),
});
export type InvoiceInput = z.infer<typeof invoiceInputSchema>;

export const vatLineSchema = z.object({ rate: z.number(), netCents: z.number(), vatCents: z.number() });

export const invoiceViewSchema = z.object({
  id: z.string(),
  organizationId: z.string(),
  /** RE-00042 once issued; null while a draft. */
  number: z.string().nullable(),
  state: z.enum(INVOICE_STATES),
  /** The customer as billed; after an erasure the address is a pseudonym (not an e-mail). */
  customer: customerInputSchema.extend({ id: z.string(), email: z.string() }),
  items: z.array(invoiceItemSchema),
  vat: z.array(vatLineSchema),
  netCents: z.number(),
  vatCents: z.number(),
  grossCents: z.number(),
  currency: z.literal('EUR'),
  issueDate: z.string().nullable(),
  serviceDate: z.string().nullable(),
  dueDate: z.string().nullable(),
  depotId: z.string().nullable(),
  depotName: z.string().nullable(),
  comp: z.number().nullable(),
  note: z.string(),
  /** The public payment page; only for the owner, while the invoice can be paid or shows a PIN. */
  payUrl: z.string().nullable(),
  pin: z
    .object({
      pinId: z.string(),
      validFrom: z.string(),
      validUntil: z.string(),
      state: z.string(),
    })
    .nullable(),
  paidAt: z.string().nullable(),
  pickedUpAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type InvoiceView = z.infer<typeof invoiceViewSchema>;

export const invoiceListQuerySchema = pageQuerySchema.extend({
  state: z.enum(INVOICE_STATES).optional(),
  q: z.string().check(atMost(100)).optional(),
  organizationId: z.string().check(atMost(40)).optional(),
});
export const invoiceListSchema = z.object({ items: z.array(invoiceViewSchema), total: z.number() });

// ─── Public payment page ────────────────────────────────────────────────────────────────────────

/** What the payer sees: the invoice, and once paid the PIN for the key. No account needed. */
export const payViewSchema = z.object({
  number: z.string(),
  state: z.enum(INVOICE_STATES),
  issuer: z.object({ name: z.string(), city: z.string() }),
  customerName: z.string(),
  items: z.array(invoiceItemSchema),
  vat: z.array(vatLineSchema),
  netCents: z.number(),
  vatCents: z.number(),
  grossCents: z.number(),
  issueDate: z.string(),
  dueDate: z.string(),
  pickup: z.object({ depotName: z.string(), location: z.string(), comp: z.number() }).nullable(),
  /** Shown once paid, until the key is taken or the PIN expires. */
  pin: z.object({ digits: z.string(), validFrom: z.string(), validUntil: z.string() }).nullable(),
  /** PayPal is set up for this invoice's issuer. */
  payable: z.boolean(),
});
export type PayView = z.infer<typeof payViewSchema>;

export const payTokenParamsSchema = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{32,64}$/) });
export const payOrderSchema = z.object({ approveUrl: z.string() });
export const payCaptureSchema = z.object({ orderId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) });
