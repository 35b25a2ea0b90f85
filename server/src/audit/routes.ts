import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiErrorSchema, auditQuerySchema, auditResponseSchema, exportQuerySchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { sendGenerated } from '../http/download.js';
import * as reports from '../reports/service.js';
import * as audit from './service.js';

/** The admin's audit log page: /api/admin/audit. */
export const auditRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));
  app.get(
    '/api/admin/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'Audit log entries, newest first, filtered, one page',
        querystring: auditQuerySchema,
        response: { 200: auditResponseSchema, 401: apiErrorSchema, 403: apiErrorSchema },
      },
    },
    async (request) => audit.list(callerOf(request), request.query),
  );

  app.get(
    '/api/admin/audit/export',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit log as CSV or PDF, oldest first, with the page filters (streamed)',
        querystring: exportQuerySchema.extend(auditQuerySchema.omit({ page: true, pageSize: true }).shape),
      },
    },
    async (request, reply) => {
      const { action, outcome, text, ...format } = request.query;
      return sendGenerated(
        reply,
        reports.exportTable(format, await audit.rowsForExport(callerOf(request), { action, outcome, text })),
      );
    },
  );
};
