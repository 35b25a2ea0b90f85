import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  apiErrorSchema,
  erasureCreateSchema,
  erasureListSchema,
  erasureViewSchema,
  okSchema,
  ownErasureSchema,
  pageQuerySchema,
} from '@kis/protocol/api';
import { z } from 'zod';
import { callerOf, clearSessionCookie, identitySlot, requireSession, type CookiePolicy } from '../http/auth.js';
import { perAddressLimit } from '../http/rate-limit.js';
import * as identity from '../identity/service.js';
import { sendGenerated } from '../http/download.js';
import * as dataExport from './data-export.js';
import * as erasures from './erasures.js';

const errors = { 400: apiErrorSchema, 401: apiErrorSchema, 403: apiErrorSchema, 404: apiErrorSchema };

/** Erasure requests (operators) and a person's own deletion or revocation. */
export const privacyRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));
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
  app.get(
    '/api/account/export',
    { schema: { tags, summary: 'Everything KIS holds about the caller, as a ZIP (JSON and their files)' } },
    async (request, reply) => {
      const zip = await dataExport.exportOwnData(callerOf(request));
      return sendGenerated(reply, { fileName: zip.fileName, contentType: 'application/zip', body: zip.stream });
    },
  );
  app.get(
    '/api/admin/organizations/:id/export',
    {
      schema: {
        tags,
        summary: 'A whole company as a ZIP: its facts and every member’s data (operators)',
        params: z.object({ id: z.string().max(40) }),
      },
    },
    async (request, reply) => {
      const zip = await dataExport.exportOrganization(callerOf(request), request.params.id);
      return sendGenerated(reply, { fileName: zip.fileName, contentType: 'application/zip', body: zip.stream });
    },
  );
  app.post(
    '/api/account/erase',
    {
      schema: {
        tags,
        summary: 'Delete the own account (or revoke consent): password again; data goes when transfers allow',
        body: ownErasureSchema,
        // 429: the password re-entry is throttled like a login.
        response: { 200: erasureViewSchema, ...errors, 429: apiErrorSchema },
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

/** Requests per minute and address to the public revocation form. */
const PUBLIC_PER_MINUTE = 10;

/** The public revocation form: no account, confirmed by a code mailed to the address. */
export const publicPrivacyRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['privacy'];
  const limit = perAddressLimit(PUBLIC_PER_MINUTE);
  const email = z.string().trim().toLowerCase().pipe(z.email().max(254));

  app.post(
    '/api/privacy/revocation',
    {
      preHandler: limit,
      schema: {
        tags,
        summary: 'Revocation form: mails a code to the address if KIS holds data for it (same answer either way)',
        body: z.object({ email }),
        response: { 200: okSchema, ...errors, 429: apiErrorSchema },
      },
    },
    async (request) => {
      await erasures.startRevocation(request.body.email);
      return { ok: true as const };
    },
  );
  app.post(
    '/api/privacy/revocation/confirm',
    {
      preHandler: limit,
      schema: {
        tags,
        summary: 'Revocation form: the mailed code makes the erasure request',
        body: z.object({
          email,
          code: z
            .string()
            .trim()
            .regex(/^\d{6,8}$/),
        }),
        response: { 200: okSchema, ...errors, 429: apiErrorSchema },
      },
    },
    async (request) => {
      await erasures.confirmRevocation(request.body.email, request.body.code);
      return { ok: true as const };
    },
  );
};
