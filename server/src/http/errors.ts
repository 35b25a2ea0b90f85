import type { FastifyError } from 'fastify';
import { DomainError, RateLimited } from '../errors.js';
import type { KisHttpApp } from './app.js';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ApiError } from '@kis/protocol/api';

/**
 * One error shape for the whole API: `{ error: { code, message } }`. Validation errors say which
 * field is wrong; server errors say nothing about internals (the log has the details).
 */
export function registerErrorHandlers(app: KisHttpApp): void {
  app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const first = err.validation[0];
      const where = first?.instancePath
        ? `${err.validationContext ?? 'body'}${first.instancePath.replaceAll('/', '.')}`
        : (err.validationContext ?? 'request');
      const body: ApiError = { error: { code: 'invalid', message: `${where}: ${first?.message ?? 'invalid'}` } };
      return reply.status(400).send(body);
    }
    if (err instanceof DomainError) {
      if (err instanceof RateLimited) reply.header('retry-after', String(err.retryAfterSeconds));
      const body: ApiError = { error: { code: err.code, message: err.message } };
      return reply
        .status(err.status)
        .send(err instanceof RateLimited ? { ...body, retryAfterSeconds: err.retryAfterSeconds } : body);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err }, 'request failed');
      const body: ApiError = { error: { code: 'internal', message: 'Internal error' } };
      return reply.status(500).send(body);
    }
    const body: ApiError = { error: { code: err.code?.toLowerCase() ?? 'bad_request', message: err.message } };
    return reply.status(status).send(body);
  });
}
