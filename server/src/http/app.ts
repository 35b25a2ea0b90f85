import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import cookie from '@fastify/cookie';
import proxyaddr from '@fastify/proxy-addr';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { registerErrorHandlers } from './errors.js';
import { lingerOnClose } from './lingering-close.js';
import { contentSecurityPolicy, inlineScriptHashes } from './security.js';
import { readIndexHtml, registerSpa } from './spa.js';
import { isLoopback } from './proxy.js';
import { systemRoutes, type SystemRouteOptions } from './system-routes.js';

/** Everything the HTTP layer is composed from; main.ts provides it. */
export interface HttpAppOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  version: string;
  /** Directory of the built SPA (web/build). */
  webRoot: string;
  readiness: SystemRouteOptions['readiness'];
  /** Registers the modules' routes (before the SPA's catch-all). */
  modules?: (app: KisHttpApp) => Promise<void>;
}

/** The Fastify instance KIS builds: plain HTTP/1.1 (TLS ends at a proxy), zod-typed routes. */
export type KisHttpApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * The trust-proxy setting as a function, as proxy-addr applies it; used for HTTP requests and for
 * Socket.IO handshakes alike, so both see the same client address.
 */
export function trustProxy(setting: Config['KIS_TRUST_PROXY']): (address: string, hop: number) => boolean {
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  if (typeof setting === 'boolean') return () => setting;
  return proxyaddr.compile(setting);
}

/** The client address of a raw request (a Socket.IO handshake) under the trust-proxy setting. */
export function rawClientIp(req: IncomingMessage, setting: Config['KIS_TRUST_PROXY']): string {
  return proxyaddr(req, trustProxy(setting));
}

/** Paths that must answer over plain HTTP even in HTTPS-only mode: probes from inside the host. */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Builds the Fastify app: security headers, HTTPS-only redirect, metrics, OpenAPI, system routes
 * and the SPA. Module routes are registered on the returned instance by main.ts.
 */
export async function buildHttpApp(options: HttpAppOptions): Promise<KisHttpApp> {
  const { config, metrics } = options;
  // With a certificate KIS speaks HTTPS itself; otherwise plain HTTP behind a proxy or on loopback.
  const https =
    config.KIS_TLS_CERT && config.KIS_TLS_KEY
      ? { https: { cert: readFileSync(config.KIS_TLS_CERT), key: readFileSync(config.KIS_TLS_KEY) } }
      : {};
  const app: KisHttpApp = Fastify({
    ...https,
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    trustProxy: trustProxy(config.KIS_TRUST_PROXY),
    bodyLimit: 1024 * 1024,
    // Request ids are for correlating log lines, not secrets.
    requestIdHeader: false,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandlers(app);

  // A reverse proxy on this machine that KIS does not trust gives every client its own address:
  // login throttles, rate limits and session binding then treat all clients as one. Say so once,
  // on the first request that shows it.
  const trusted = trustProxy(config.KIS_TRUST_PROXY);
  let warnedUntrustedProxy = false;
  app.addHook('onRequest', async (request) => {
    if (warnedUntrustedProxy || request.headers['x-forwarded-for'] === undefined) return;
    const address = request.socket.remoteAddress;
    if (!isLoopback(address) || trusted(address ?? '', 0)) return;
    warnedUntrustedProxy = true;
    app.log.warn(
      'requests from a local reverse proxy carry X-Forwarded-For, but KIS_TRUST_PROXY does not trust it: every client ' +
        'shares the proxy address for login throttles, rate limits and session binding. Set KIS_TRUST_PROXY=loopback',
    );
  });

  if (config.KIS_HTTPS_ONLY) {
    app.addHook('onRequest', async (request, reply) => {
      if (request.protocol === 'https' || PROBE_PATHS.has(request.url.split('?')[0] ?? '')) return;
      return reply.redirect(`${config.publicUrl}${request.url}`, 308);
    });
  }

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  // Nothing from the API may stay in a browser or proxy cache on a shared workstation.
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/api/') && !request.url.startsWith('/api/docs'))
      reply.header('cache-control', 'no-store');
    // Answered before the body arrived (refused upload, body over the limit): close, but so that
    // the client still reads the answer instead of a reset.
    if (!request.raw.complete) {
      reply.header('connection', 'close');
      lingerOnClose(request.raw.socket);
    }
  });

  await app.register(cookie);

  const indexHtml = readIndexHtml(options.webRoot);
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: contentSecurityPolicy(indexHtml ? inlineScriptHashes(indexHtml) : [], config.KIS_HTTPS_ONLY),
    },
    // HSTS only where the operator promised HTTPS: a browser would otherwise refuse plain HTTP for a year.
    hsts: config.KIS_HTTPS_ONLY ? { maxAge: 31536000, includeSubDomains: true } : false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginEmbedderPolicy: false,
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'KIS API',
        version: options.version,
        description:
          'Customer portal and key depot management. All routes under /api need a session unless marked otherwise.',
      },
      servers: [{ url: config.publicUrl }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    // Swagger UI ships its own scripts and styles; give its pages a CSP that fits them.
    staticCSP: true,
    uiConfig: { docExpansion: 'list', deepLinking: false },
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(systemRoutes, {
    version: options.version,
    metrics,
    metricsToken: config.KIS_METRICS_TOKEN,
    mailConfigured: config.SMTP_URL !== undefined,
    readiness: options.readiness,
  });

  await options.modules?.(app);
  await registerSpa(app, options.webRoot, indexHtml);
  return app;
}
