import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  documentCreateSchema,
  documentListQuerySchema,
  documentListSchema,
  documentRenameSchema,
  documentViewSchema,
  okSchema,
} from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import * as documents from './documents.js';

const errors = { 400: apiErrorSchema, 401: apiErrorSchema, 403: apiErrorSchema, 404: apiErrorSchema };
const idParams = z.object({ id: z.string().max(40) });
const tags = ['documents'];

/** Area 3: the list of texts and their titles. The content itself travels over Socket.IO (doc:*). */
export const documentRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('preHandler', requireSession(options.cookie));

  app.get(
    '/api/documents',
    {
      schema: {
        tags,
        summary: 'Texts the caller may open, last changed first',
        querystring: documentListQuerySchema,
        response: { 200: documentListSchema, ...errors },
      },
    },
    async (request) => documents.listDocuments(callerOf(request), request.query),
  );

  app.post(
    '/api/documents',
    {
      schema: {
        tags,
        summary: "Create an empty text: the caller's own or their company's (operators: anyone's)",
        body: documentCreateSchema,
        response: { 200: documentViewSchema, ...errors },
      },
    },
    async (request) => documents.createDocument(callerOf(request), request.body),
  );

  app.patch(
    '/api/documents/:id',
    {
      schema: {
        tags,
        summary: 'Rename a text',
        params: idParams,
        body: documentRenameSchema,
        response: { 200: documentViewSchema, ...errors },
      },
    },
    async (request) => documents.renameDocument(callerOf(request), request.params.id, request.body.title),
  );

  app.delete(
    '/api/documents/:id',
    {
      schema: {
        tags,
        summary: 'Delete a text and its history',
        params: idParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await documents.deleteDocument(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );
};
