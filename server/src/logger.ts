import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/** Paths whose last part is a secret: the payment page and its API, PayPal's webhook. */
const SECRET_PATHS = /^(\/api\/pay\/|\/bezahlen\/|\/api\/payments\/webhook\/)[^/]+/;

/** A request path with the secret part of capability URLs replaced. */
export function maskPath(path: string | undefined): string | undefined {
  return path?.replace(SECRET_PATHS, '$1[redacted]');
}

/**
 * The process-wide pino logger. Cookies, authorization headers and anything named like a secret
 * are redacted, so no session id, token or password reaches a log line.
 */
export function createLogger(config: Pick<Config, 'KIS_LOG_LEVEL'>): Logger {
  return pino({
    level: config.KIS_LOG_LEVEL,
    base: { service: 'kis' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: {
      // Query strings can hold search terms such as e-mail addresses: log the path only, and
      // without the capabilities some paths carry (a payment link's token, a webhook's key).
      req: (req: { method?: string; url?: string; ip?: string }) => ({
        method: req.method,
        path: maskPath(req.url?.split('?')[0]),
        ip: req.ip,
      }),
    },
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers.authorization',
        'req.headers["x-csrf-token"]',
        'res.headers["set-cookie"]',
        '*.password',
        '*.token',
        '*.secret',
        '*.key',
        '*.pin',
      ],
      censor: '[redacted]',
    },
  });
}
