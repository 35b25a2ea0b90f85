import { expect } from 'vitest';
import type { CustomerView, InvoiceView, PaymentSettings } from '@kis/protocol/api';
import { startPayPalStandIn, type PayPalStandIn } from '../../scripts/paypal-standin/server.js';
import { GOOD_PASSWORD, type ApiClient } from './api.js';
import { freePort } from './net.js';
import { startServer, type TestServer } from './server.js';
import { startSmtp, type TestSmtp } from './smtp.js';

/** A complete issuer as §14 UStG asks for it. */
export const ISSUER = {
  name: 'Autohaus Berger GmbH',
  street: 'Hauptstraße 12',
  postalCode: '80331',
  city: 'München',
  country: 'Deutschland',
  taxNumber: '143/123/45678',
  vatId: 'DE123456789',
  email: 'rechnung@autohaus-berger.example',
  phone: '+49 89 123456',
};

/**
 * Saves invoicing settings with PayPal pointing at the stand-in (the server's KIS_PAYPAL_BASE_URL),
 * confirmed with the owner's password as a change of the PayPal credentials needs.
 */
export async function setUpPayments(owner: ApiClient, query = ''): Promise<PaymentSettings> {
  const res = await owner.request<PaymentSettings>('PUT', `/api/payments/settings${query}`, {
    issuer: ISSUER,
    numberPrefix: 'RE-',
    paymentTermDays: 14,
    pinValidDays: 7,
    paypal: { clientId: 'AcmeClientId', secret: 'geheim-Secret-4711', mode: 'sandbox', webhookId: '' },
    password: GOOD_PASSWORD,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

export async function addCustomer(owner: ApiClient, input: Partial<CustomerView> = {}): Promise<CustomerView> {
  const res = await owner.post<CustomerView>('/api/payments/customers', {
    name: 'Jürgen Groß',
    email: 'juergen.gross@kunde.example',
    phone: '+49 170 1234567',
    reference: 'M-KB 1234',
    street: 'Lindenweg 3',
    postalCode: '80333',
    city: 'München',
    ...input,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Writes and issues an invoice: a repair (19 %) and a car wash (7 % is wrong, but tests two rates). */
export async function issueInvoice(
  owner: ApiClient,
  customerId: string,
  pickup?: { depotId: string; comp: number },
): Promise<InvoiceView> {
  const draft = await owner.post<InvoiceView>('/api/invoices', {
    customerId,
    items: [
      { description: 'Inspektion nach Herstellervorgabe', quantity: 1000, unitNetCents: 18_900, vatRate: 19 },
      { description: 'Ölwechsel 5W-30, Liter', quantity: 4500, unitNetCents: 1_290, vatRate: 19 },
      { description: 'Fachzeitschrift', quantity: 1000, unitNetCents: 500, vatRate: 7 },
    ],
    ...(pickup ?? {}),
  });
  expect(draft.status, JSON.stringify(draft.body)).toBe(200);
  expect(draft.body.state).toBe('draft');
  const issued = await owner.post<InvoiceView>(`/api/invoices/${draft.body.id}/issue`);
  expect(issued.status, JSON.stringify(issued.body)).toBe(200);
  return issued.body;
}

/** The token at the end of a payment link. */
export function tokenOf(payUrl: string | null): string {
  const token = payUrl?.split('/bezahlen/')[1];
  if (!token) throw new Error(`not a payment link: ${payUrl}`);
  return token;
}

/**
 * A server whose PayPal is the stand-in and whose mail reaches an in-process SMTP server, on a port
 * its public URL names (payment links in mails must lead back to it). `env` adds settings.
 */
export async function startServerWithPayPal(
  env: Record<string, string> = {},
): Promise<{ paypal: PayPalStandIn; smtp: TestSmtp; server: TestServer }> {
  const paypal = await startPayPalStandIn();
  const smtp = await startSmtp();
  const port = await freePort();
  const server = await startServer({
    env: {
      SMTP_URL: smtp.url,
      KIS_PAYPAL_BASE_URL: paypal.url,
      KIS_HTTP_PORT: String(port),
      KIS_PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...env,
    },
  });
  return { paypal, smtp, server };
}
