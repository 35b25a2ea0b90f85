import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiErrorSchema, healthSchema, readinessSchema, serverInfoSchema, type Readiness } from '@kis/protocol/api';
import type { Metrics } from '../metrics.js';
import { forwarded, isLoopback } from './proxy.js';

/** What the system routes need to know about the running process. */
export interface SystemRouteOptions {
  version: string;
  metrics: Metrics;
  /**
   * Bearer token for /metrics; without one only loopback clients may read it, and only directly: a
   * request a local proxy forwarded comes from outside.
   */
  metricsToken: string | undefined;
  mailConfigured: boolean;
  readiness(): Promise<Readiness['checks']>;
}

/** /healthz, /readyz, /metrics and /api/info. */
export const systemRoutes: FastifyPluginAsyncZod<SystemRouteOptions> = async (app, options) => {
  app.get(
    '/healthz',
    { schema: { tags: ['system'], summary: 'The process is alive', response: { 200: healthSchema } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['system'],
        summary: 'The database answers and the depot UDP socket is bound',
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const checks = await options.readiness();
      const ready = checks.database && checks.udp;
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['system'], summary: 'Prometheus metrics (loopback or bearer token)', hide: false } },
    async (request, reply) => {
      const token = options.metricsToken;
      // A reverse proxy on this machine makes every outside client look like loopback; the
      // forwarding headers it adds give it away (whether or not KIS_TRUST_PROXY trusts them).
      const allowed = token
        ? request.headers.authorization === `Bearer ${token}`
        : isLoopback(request.socket.remoteAddress) && !forwarded(request.headers);
      if (!allowed) return reply.status(403).send({ error: { code: 'forbidden', message: 'Metrics are not public' } });
      return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
    },
  );

  app.get(
    '/api/info',
    {
      schema: {
        tags: ['system'],
        summary: 'Public facts about this server',
        response: { 200: serverInfoSchema, 500: apiErrorSchema },
      },
    },
    async () => ({ name: 'KIS' as const, version: options.version, mailConfigured: options.mailConfigured }),
  );
};
