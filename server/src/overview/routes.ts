import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiErrorSchema, operatorOverviewSchema } from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import * as overview from './service.js';

/** The operator's home: /api/admin/overview. */
export const overviewRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));
  app.get(
    '/api/admin/overview',
    {
      schema: {
        tags: ['admin'],
        summary: "The operator's figures (depots, registrations, outbox, erasures, backup) and first-run checklist",
        response: { 200: operatorOverviewSchema, 401: apiErrorSchema, 403: apiErrorSchema },
      },
    },
    async (request) => overview.operatorOverview(callerOf(request)),
  );
};
