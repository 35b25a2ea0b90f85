import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  areaSummarySchema,
  fileListQuerySchema,
  fileListSchema,
  fileUploadQuerySchema,
  fileViewSchema,
  infoCreateSchema,
  infoEntrySchema,
  infoListQuerySchema,
  infoListSchema,
  infoUpdateSchema,
  infoVersionListSchema,
  okSchema,
} from '@kis/protocol/api';
import { callerOf, requireSession, type CookiePolicy } from '../http/auth.js';
import { contentDisposition } from '../http/download.js';
import * as files from './files.js';
import * as info from './info.js';

const errors = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  403: apiErrorSchema,
  404: apiErrorSchema,
  409: apiErrorSchema,
  413: apiErrorSchema,
};
const idParams = z.object({ id: z.string().max(40) });
const attachmentParams = idParams.extend({ fileId: z.string().max(40) });

/** Streams a download: always as an attachment, with the sniffed type, never rendered by the browser. */
function sendDownload(reply: FastifyReply, download: files.Download): FastifyReply {
  return reply
    .header('content-type', download.file.contentType)
    .header('content-length', String(download.file.size))
    .header('content-disposition', contentDisposition(download.file.name))
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .send(download.stream);
}

/** What an upload request brings besides its query: the declared length and the body stream. */
function uploadOf(request: FastifyRequest, name: string): files.UploadInput {
  const length = request.headers['content-length'];
  return {
    name,
    declaredBytes: length !== undefined && /^\d{1,16}$/.test(length) ? Number(length) : undefined,
    source: request.raw,
  };
}

/**
 * Uploads: the request body is the file itself, streamed as it arrives (never parsed or buffered,
 * whatever Content-Type the client claims). A refused upload closes the connection, so a client
 * does not go on sending gigabytes nobody reads.
 */
const uploadRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  app.addHook('onRequest', requireSession(options.cookie));
  app.addHook('onSend', async (_request, reply) => {
    if (reply.statusCode >= 400) reply.header('connection', 'close');
  });

  app.post(
    '/api/files',
    {
      schema: {
        tags: ['files'],
        summary: 'Upload a file into a file area (body: the file; customers their own, operators any)',
        querystring: fileUploadQuerySchema,
        response: { 200: fileViewSchema, ...errors },
      },
    },
    async (request) =>
      files.uploadFile(callerOf(request), { ...uploadOf(request, request.query.name), userId: request.query.userId }),
  );

  app.post(
    '/api/information/:id/attachments',
    {
      schema: {
        tags: ['information'],
        summary: 'Attach a file to an entry (operators; body: the file)',
        params: idParams,
        querystring: z.object({ name: z.string().max(1024) }),
        response: { 200: fileViewSchema, ...errors },
      },
    },
    async (request) => info.addAttachment(callerOf(request), request.params.id, uploadOf(request, request.query.name)),
  );
};

/** Areas 1, 2 and 4: information for a person or a company domain, and the file exchange. */
export const areaRoutes: FastifyPluginAsyncZod<{ cookie: CookiePolicy }> = async (app, options) => {
  await app.register(uploadRoutes, options);
  app.addHook('onRequest', requireSession(options.cookie));

  app.get(
    '/api/areas/summary',
    {
      schema: {
        tags: ['information'],
        summary: "The caller's areas: unread entries, files, rights",
        response: { 200: areaSummarySchema, ...errors },
      },
    },
    async (request) => info.summary(callerOf(request)),
  );

  app.get(
    '/api/files',
    {
      schema: {
        tags: ['files'],
        summary: 'One page of a file area with its quota',
        querystring: fileListQuerySchema,
        response: { 200: fileListSchema, ...errors },
      },
    },
    async (request) => files.listFiles(callerOf(request), request.query),
  );

  app.get(
    '/api/files/:id',
    {
      schema: { tags: ['files'], summary: 'Download a file (streamed, as an attachment)', params: idParams },
    },
    async (request, reply) => sendDownload(reply, await files.openDownload(callerOf(request), request.params.id)),
  );

  app.delete(
    '/api/files/:id',
    {
      schema: { tags: ['files'], summary: 'Delete a file', params: idParams, response: { 200: okSchema, ...errors } },
    },
    async (request) => {
      await files.deleteFile(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/information',
    {
      schema: {
        tags: ['information'],
        summary: "Entries of area 1 (person) or 2 (domain): the caller's own, or a named target for operators",
        querystring: infoListQuerySchema,
        response: { 200: infoListSchema, ...errors },
      },
    },
    async (request) => info.listInfo(callerOf(request), request.query),
  );

  app.post(
    '/api/information',
    {
      schema: {
        tags: ['information'],
        summary: 'Write an entry for a person or a confirmed company domain (operators)',
        body: infoCreateSchema,
        response: { 200: infoEntrySchema, ...errors },
      },
    },
    async (request) => info.createInfo(callerOf(request), request.body),
  );

  app.patch(
    '/api/information/:id',
    {
      schema: {
        tags: ['information'],
        summary: 'Change an entry; the previous version is kept (operators)',
        params: idParams,
        body: infoUpdateSchema,
        response: { 200: infoEntrySchema, ...errors },
      },
    },
    async (request) => info.updateInfo(callerOf(request), request.params.id, request.body),
  );

  app.delete(
    '/api/information/:id',
    {
      schema: {
        tags: ['information'],
        summary: 'Delete an entry with its attachments (operators)',
        params: idParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await info.deleteInfo(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/information/:id/versions',
    {
      schema: {
        tags: ['information'],
        summary: 'Earlier versions of an entry (operators)',
        params: idParams,
        response: { 200: infoVersionListSchema, ...errors },
      },
    },
    async (request) => info.listVersions(callerOf(request), request.params.id),
  );

  app.post(
    '/api/information/:id/read',
    {
      schema: {
        tags: ['information'],
        summary: 'Mark an entry as read',
        params: idParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await info.markRead(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );

  app.get(
    '/api/information/:id/attachments/:fileId',
    {
      schema: { tags: ['information'], summary: 'Download an attachment', params: attachmentParams },
    },
    async (request, reply) =>
      sendDownload(reply, await info.openAttachment(callerOf(request), request.params.id, request.params.fileId)),
  );

  app.delete(
    '/api/information/:id/attachments/:fileId',
    {
      schema: {
        tags: ['information'],
        summary: 'Remove an attachment (operators)',
        params: attachmentParams,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await info.removeAttachment(callerOf(request), request.params.id, request.params.fileId);
      return { ok: true as const };
    },
  );
};
