import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiErrorSchema, outboxQuerySchema, outboxResponseSchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import * as mail from './service.js';

/** The admin's outbox page: /api/admin/outbox. */
export const outboxRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));
  app.get(
    '/api/admin/outbox',
    {
      schema: {
        tags: ['admin'],
        summary: 'Mails in the outbox, newest first, one page',
        querystring: outboxQuerySchema,
        response: { 200: outboxResponseSchema, 401: apiErrorSchema, 403: apiErrorSchema },
      },
    },
    async (request) => ({
      ...(await mail.listOutbox(callerOf(request), request.query)),
      mailConfigured: mail.isConfigured(),
    }),
  );
};
