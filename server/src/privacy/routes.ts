import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  apiErrorSchema,
  erasureCreateSchema,
  erasureListSchema,
  erasureViewSchema,
  ownErasureSchema,
  pageQuerySchema,
} from '@kis/protocol/api';
import { z } from 'zod';
import { callerOf, clearSessionCookie, identitySlot, requireSession, type CookiePolicy } from '../http/auth.js';
import * as identity from '../identity/service.js';
import * as erasures from './erasures.js';

const errors = { 400: apiErrorSchema, 401: apiErrorSchema, 403: apiErrorSchema, 404: apiErrorSchema };

/** Erasure requests (operators) and a person's own deletion or revocation. */
export const privacyRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('preHandler', requireSession(options.cookie));
  const tags = ['privacy'];

  app.get(
    '/api/admin/erasures',
    {
      schema: {
        tags,
        summary: 'Erasure requests, newest first',
        querystring: pageQuerySchema,
        response: { 200: erasureListSchema, ...errors },
      },
    },
    async (request) => erasures.listErasures(callerOf(request), request.query),
  );
  app.post(
    '/api/admin/erasures',
    {
      schema: {
        tags,
        summary: "Erase people's data by address; each request waits for the person's active transfers",
        body: erasureCreateSchema,
        response: { 200: z.object({ items: z.array(erasureViewSchema) }), ...errors },
      },
    },
    async (request) => ({ items: await erasures.requestErasure(callerOf(request), request.body.emails) }),
  );
  app.post(
    '/api/account/erase',
    {
      schema: {
        tags,
        summary: 'Delete the own account (or revoke consent): password again; data goes when transfers allow',
        body: ownErasureSchema,
        response: { 200: erasureViewSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      await identity.reauthenticate(caller, request.body.password);
      const result = await erasures.requestOwnErasure(caller, request.body.reason);
      clearSessionCookie(reply, options.cookie, identitySlot(request));
      return result;
    },
  );
};
