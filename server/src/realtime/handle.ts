import type { z } from 'zod';
import type { Ack, AckError } from '@kis/protocol/realtime';
import { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';

const ACK_CODES: Readonly<Record<number, AckError['code']>> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  429: 'rate_limited',
};

/**
 * Wraps a socket handler: validates the payload with its schema, calls the handler, and answers
 * through the ack with `{ ok, value }` or `{ ok: false, error }`. A bad payload or a missing ack
 * never throws into Socket.IO, and internal errors are logged but not described to the client.
 *
 * @example
 * socket.on('system:ping', handle(pingPayloadSchema, log, async (p) => ({ sentAt: p.sentAt })));
 */
export function handle<S extends z.ZodType, R>(
  schema: S,
  log: Logger,
  handler: (payload: z.infer<S>) => Promise<R>,
): (payload: unknown, ack?: unknown) => void {
  return (payload, ack) => {
    const reply = typeof ack === 'function' ? (ack as (answer: Ack<R>) => void) : () => undefined;
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      reply({
        ok: false,
        error: { code: 'invalid', message: `${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}` },
      });
      return;
    }
    handler(parsed.data).then(
      (value) => reply({ ok: true, value }),
      (err: unknown) => {
        if (err instanceof DomainError) {
          reply({ ok: false, error: { code: ACK_CODES[err.status] ?? 'invalid', message: err.code } });
          return;
        }
        log.error({ err }, 'socket handler failed');
        reply({ ok: false, error: { code: 'internal' } });
      },
    );
  };
}
