import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  documentCreateSchema,
  documentExportQuerySchema,
  documentVersionContentSchema,
  documentVersionCreateSchema,
  documentVersionListSchema,
  documentVersionSchema,
  documentListQuerySchema,
  documentListSchema,
  documentRenameSchema,
  documentViewSchema,
  okSchema,
} from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { sendGenerated } from '../http/download.js';
import * as documents from './documents.js';

const errors = { 400: apiErrorSchema, 401: apiErrorSchema, 403: apiErrorSchema, 404: apiErrorSchema };
const idParams = z.object({ id: z.string().max(40) });
const versionParams = idParams.extend({ versionId: z.string().max(40) });
const tags = ['documents'];

/** Area 3: the list of texts and their titles. The content itself travels over Socket.IO (doc:*). */
export const documentRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));

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

  app.get(
    '/api/documents/:id/versions',
    {
      schema: {
        tags,
        summary: 'Kept versions of a text, newest first',
        params: idParams,
        response: { 200: documentVersionListSchema, ...errors },
      },
    },
    async (request) => documents.listVersions(callerOf(request), request.params.id),
  );

  app.post(
    '/api/documents/:id/versions',
    {
      schema: {
        tags,
        summary: 'Keep the text as it is now under a name',
        params: idParams,
        body: documentVersionCreateSchema,
        response: { 200: documentVersionSchema, ...errors },
      },
    },
    async (request) => documents.createVersion(callerOf(request), request.params.id, request.body.name),
  );

  app.get(
    '/api/documents/:id/versions/:versionId',
    {
      schema: {
        tags,
        summary: 'One kept version, as Markdown',
        params: versionParams,
        response: { 200: documentVersionContentSchema, ...errors },
      },
    },
    async (request) => documents.getVersion(callerOf(request), request.params.id, request.params.versionId),
  );

  app.post(
    '/api/documents/:id/versions/:versionId/restore',
    {
      schema: {
        tags,
        summary: 'Bring the text back to a kept version (everyone editing sees it at once)',
        params: versionParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await documents.restoreVersion(callerOf(request), request.params.id, request.params.versionId);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/documents/:id/export',
    {
      schema: {
        tags,
        summary: 'Download the text as Markdown or PDF',
        params: idParams,
        querystring: documentExportQuerySchema,
      },
    },
    async (request, reply) => {
      const file = await documents.exportDocument(callerOf(request), request.params.id, request.query.format);
      return sendGenerated(reply, file);
    },
  );
};
