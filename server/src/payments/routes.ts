import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  exportQuerySchema,
  connectionTestSchema,
  customerInputSchema,
  customerListQuerySchema,
  customerListSchema,
  customerViewSchema,
  invoiceInputSchema,
  invoiceListQuerySchema,
  invoiceListSchema,
  invoiceViewSchema,
  okSchema,
  payCaptureSchema,
  payOrderSchema,
  payTokenParamsSchema,
  payViewSchema,
  paymentSettingsSchema,
  paymentSettingsUpdateSchema,
  PAYPAL_MODES,
} from '@kis/protocol/api';
import { perAddressLimit } from '../http/rate-limit.js';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { sendGenerated } from '../http/download.js';
import * as reports from '../reports/service.js';
import * as checkout from './checkout.js';
import * as exports from './exports.js';
import * as customers from './customers.js';
import * as invoices from './invoices.js';
import type { WebhookHeaders } from './paypal.js';
import * as settings from './settings.js';

const errors = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  403: apiErrorSchema,
  404: apiErrorSchema,
  409: apiErrorSchema,
  429: apiErrorSchema,
  503: apiErrorSchema,
};
const idParams = z.object({ id: z.string().max(40) });
const orgQuery = z.object({ organizationId: z.string().max(40).optional() });
const langQuery = z.object({ lang: z.enum(['de', 'en']).default('de') });

/** Owner side: settings, customers and invoices, behind a session with the right `manage_invoices`. */
export const paymentRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));
  const tags = ['payments'];

  app.get(
    '/api/payments/settings',
    {
      schema: {
        tags,
        summary: 'Invoicing and PayPal settings',
        querystring: orgQuery,
        response: { 200: paymentSettingsSchema, ...errors },
      },
    },
    async (request) => settings.getSettings(callerOf(request), request.query.organizationId),
  );
  app.put(
    '/api/payments/settings',
    {
      schema: {
        tags,
        summary:
          'Save invoicing and PayPal settings (the secret is sealed and never shown again; new PayPal credentials need the password and are mailed to the main account)',
        querystring: orgQuery,
        body: paymentSettingsUpdateSchema,
        response: { 200: paymentSettingsSchema, ...errors },
      },
    },
    async (request) => settings.updateSettings(callerOf(request), request.body, request.query.organizationId),
  );
  app.post(
    '/api/payments/settings/test',
    {
      schema: {
        tags,
        summary: 'Test the PayPal credentials (stored, or the given ones before saving)',
        querystring: orgQuery,
        body: z.object({
          clientId: z.string().max(200).optional(),
          secret: z.string().max(200).optional(),
          mode: z.enum(PAYPAL_MODES).optional(),
        }),
        response: { 200: connectionTestSchema, ...errors },
      },
    },
    async (request) => settings.testConnection(callerOf(request), request.body, request.query.organizationId),
  );

  app.get(
    '/api/payments/customers',
    {
      schema: {
        tags,
        summary: 'Customers, by name',
        querystring: customerListQuerySchema,
        response: { 200: customerListSchema, ...errors },
      },
    },
    async (request) => customers.listCustomers(callerOf(request), request.query),
  );
  app.post(
    '/api/payments/customers',
    {
      schema: {
        tags,
        summary: 'Add a customer',
        querystring: orgQuery,
        body: customerInputSchema,
        response: { 200: customerViewSchema, ...errors },
      },
    },
    async (request) => customers.createCustomer(callerOf(request), request.body, request.query.organizationId),
  );
  app.put(
    '/api/payments/customers/:id',
    {
      schema: {
        tags,
        summary: 'Change a customer',
        params: idParams,
        body: customerInputSchema,
        response: { 200: customerViewSchema, ...errors },
      },
    },
    async (request) => customers.updateCustomer(callerOf(request), request.params.id, request.body),
  );
  app.delete(
    '/api/payments/customers/:id',
    {
      schema: {
        tags,
        summary: 'Delete a customer (issued invoices stay)',
        params: idParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await customers.deleteCustomer(callerOf(request), request.params.id, invoices.deleteDraftsOf);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/invoices',
    {
      schema: {
        tags,
        summary: 'Invoices, newest first',
        querystring: invoiceListQuerySchema,
        response: { 200: invoiceListSchema, ...errors },
      },
    },
    async (request) => invoices.listInvoices(callerOf(request), request.query),
  );
  app.post(
    '/api/invoices',
    {
      schema: {
        tags,
        summary: 'Write a draft invoice',
        querystring: orgQuery,
        body: invoiceInputSchema,
        response: { 200: invoiceViewSchema, ...errors },
      },
    },
    async (request) => invoices.createInvoice(callerOf(request), request.body, request.query.organizationId),
  );
  app.get(
    '/api/invoices/export',
    {
      schema: {
        tags,
        summary: 'Invoices as CSV or PDF, in number order, with the list filters (streamed)',
        querystring: exportQuerySchema.extend(
          invoiceListQuerySchema.pick({ state: true, q: true, organizationId: true }).shape,
        ),
      },
    },
    async (request, reply) => {
      const { state, q, organizationId, ...format } = request.query;
      return sendGenerated(
        reply,
        reports.exportTable(format, await exports.invoicesForExport(callerOf(request), { state, q, organizationId })),
      );
    },
  );
  app.get(
    '/api/payments/export',
    {
      schema: {
        tags,
        summary: 'Payments and refunds as CSV or PDF, oldest first (streamed)',
        querystring: exportQuerySchema.extend({
          from: z.iso.datetime({ offset: true }).optional(),
          to: z.iso.datetime({ offset: true }).optional(),
          organizationId: z.string().max(40).optional(),
        }),
      },
    },
    async (request, reply) => {
      const { from, to, organizationId, ...format } = request.query;
      return sendGenerated(
        reply,
        reports.exportTable(format, await exports.paymentsForExport(callerOf(request), { from, to, organizationId })),
      );
    },
  );
  app.get(
    '/api/invoices/:id',
    { schema: { tags, summary: 'One invoice', params: idParams, response: { 200: invoiceViewSchema, ...errors } } },
    async (request) => invoices.getInvoice(callerOf(request), request.params.id),
  );
  app.put(
    '/api/invoices/:id',
    {
      schema: {
        tags,
        summary: 'Change a draft',
        params: idParams,
        body: invoiceInputSchema,
        response: { 200: invoiceViewSchema, ...errors },
      },
    },
    async (request) => invoices.updateInvoice(callerOf(request), request.params.id, request.body),
  );
  app.delete(
    '/api/invoices/:id',
    { schema: { tags, summary: 'Delete a draft', params: idParams, response: { 200: okSchema, ...errors } } },
    async (request) => {
      await invoices.deleteDraft(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );
  for (const [action, run, summary] of [
    ['issue', invoices.issueInvoice, 'Issue a draft: number, mail with the PDF and payment link'],
    ['cancel', invoices.cancelInvoice, 'Cancel an open invoice'],
    ['refund', invoices.refundInvoice, 'Refund a paid invoice through PayPal and revoke its PIN'],
  ] as const) {
    app.post(
      `/api/invoices/:id/${action}`,
      { schema: { tags, summary, params: idParams, response: { 200: invoiceViewSchema, ...errors } } },
      async (request) => run(callerOf(request), request.params.id),
    );
  }
  app.get(
    '/api/invoices/:id/pdf',
    { schema: { tags, summary: 'The invoice as a PDF', params: idParams, querystring: langQuery } },
    async (request, reply) => {
      const { name, pdf } = await invoices.invoicePdf(callerOf(request), request.params.id, request.query.lang);
      return sendGenerated(reply, { fileName: name, contentType: 'application/pdf', body: pdf });
    },
  );
};

/** Requests per minute one address may make to the public payment pages. */
const PUBLIC_PER_MINUTE = 60;

/**
 * Public side: the payment page behind an invoice's link and PayPal's webhook. No session: the
 * link's token, or PayPal's verified signature, is the authority. Rate-limited per address, since
 * anyone can call these.
 */
export const publicPaymentRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['payments'];
  const limit = perAddressLimit(PUBLIC_PER_MINUTE);

  app.get(
    '/api/pay/:token',
    {
      preHandler: limit,
      schema: {
        tags,
        summary: 'The invoice behind a payment link (and its PIN once paid)',
        params: payTokenParamsSchema,
        response: { 200: payViewSchema, ...errors },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      return checkout.payView(request.params.token);
    },
  );
  app.post(
    '/api/pay/:token/order',
    {
      preHandler: limit,
      schema: {
        tags,
        summary: 'Start paying with PayPal: the approval link',
        params: payTokenParamsSchema,
        body: langQuery,
        response: { 200: payOrderSchema, ...errors },
      },
    },
    async (request) => checkout.startPayment(request.params.token, request.body.lang),
  );
  app.post(
    '/api/pay/:token/capture',
    {
      preHandler: limit,
      schema: {
        tags,
        summary: 'Back from PayPal: capture the payment, release the PIN',
        params: payTokenParamsSchema,
        body: payCaptureSchema,
        response: { 200: payViewSchema, ...errors },
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      return checkout.capturePayment(request.params.token, request.body.orderId);
    },
  );
  app.post(
    '/api/payments/webhook/:key',
    {
      schema: {
        tags,
        summary: "PayPal's webhook (verified through PayPal)",
        params: z.object({ key: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/) }),
        // A record keeps the event's keys in their order: it goes back to PayPal for verification
        // exactly as it came (handleWebhook checks the fields it reads).
        body: z.record(z.string(), z.unknown()),
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      const header = (name: keyof WebhookHeaders): string | undefined => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      return checkout.handleWebhook(
        request.params.key,
        {
          'paypal-auth-algo': header('paypal-auth-algo'),
          'paypal-cert-url': header('paypal-cert-url'),
          'paypal-transmission-id': header('paypal-transmission-id'),
          'paypal-transmission-sig': header('paypal-transmission-sig'),
          'paypal-transmission-time': header('paypal-transmission-time'),
        },
        request.body,
      );
    },
  );
};
