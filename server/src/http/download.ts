import type { FastifyReply } from 'fastify';

/** `filename*` per RFC 6266/5987 beside an ASCII fallback, for names in any script. */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** A file the server makes (an export): its name, type and content, streamed or whole. */
export interface GeneratedFile {
  fileName: string;
  contentType: string;
  body: string | Buffer | NodeJS.ReadableStream;
  /** Rows a table export holds, sent as X-Export-Rows so the browser can show its progress. */
  rows?: number;
}

/** Sends a generated file as a download that the browser never renders. */
export function sendGenerated(reply: FastifyReply, file: GeneratedFile): FastifyReply {
  if (file.rows !== undefined) reply.header('x-export-rows', String(file.rows));
  return reply
    .header('content-type', file.contentType)
    .header('content-disposition', contentDisposition(file.fileName))
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .send(file.body);
}
