import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiErrorSchema, auditQuerySchema, auditResponseSchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import * as audit from './service.js';

/** The admin's audit log page: /api/admin/audit. */
export const auditRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('preHandler', requireSession(options.cookie));
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
};
