import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

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
      // Query strings can hold search terms such as e-mail addresses: log the path only.
      req: (req: { method?: string; url?: string; ip?: string }) => ({
        method: req.method,
        path: req.url?.split('?')[0],
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
