import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { KisHttpApp } from './app.js';

/** Paths that belong to the server, never to the SPA's history fallback. */
const SERVER_PREFIXES = ['/api/', '/socket.io/', '/healthz', '/readyz', '/metrics'];

/** Reads the SPA's entry page, or undefined when the web package has not been built. */
export function readIndexHtml(webRoot: string): string | undefined {
  const file = path.join(webRoot, 'index.html');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/**
 * Serves the built SvelteKit SPA: hashed assets cached for a year, everything else revalidated,
 * and index.html for any other GET that accepts HTML (client-side routes such as /login).
 */
export async function registerSpa(app: KisHttpApp, webRoot: string, indexHtml: string | undefined): Promise<void> {
  if (indexHtml) {
    await app.register(fastifyStatic, {
      root: webRoot,
      index: false,
      wildcard: true,
      // Our own cache-control below; the plugin's default (max-age=0) would override it.
      cacheControl: false,
      setHeaders(res, filePath) {
        const immutable = filePath.includes(`${path.sep}_app${path.sep}immutable${path.sep}`);
        res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  }

  const sendIndex = (reply: FastifyReply): FastifyReply => {
    if (!indexHtml) {
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The web interface is not built. Run "npm run build".');
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(indexHtml);
  };
  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));

  app.setNotFoundHandler(async (request, reply) => {
    const url = request.url.split('?')[0] ?? '/';
    const wantsPage =
      request.method === 'GET' &&
      !SERVER_PREFIXES.some((p) => url.startsWith(p)) &&
      (request.headers.accept ?? '').includes('text/html');
    if (wantsPage) return sendIndex(reply);
    return reply.status(404).send({ error: { code: 'not_found', message: `${request.method} ${url} not found` } });
  });
}
