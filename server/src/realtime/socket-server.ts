import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server } from 'socket.io';
import { pingPayloadSchema, type ClientToServerEvents, type ServerToClientEvents } from '@kis/protocol/realtime';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { handle } from './handle.js';

/** The typed Socket.IO server of KIS. */
export type KisSocketServer = Server<ClientToServerEvents, ServerToClientEvents>;

/**
 * True when a browser's Origin is this portal: the public URL, or the host the request was sent to.
 * A missing Origin (same-origin polling GETs, non-browser clients) is let through; authentication
 * (issue 3) is what admits a socket, the Origin check stops other sites' pages from using a cookie.
 */
export function isAllowedOrigin(req: IncomingMessage, publicUrl: string): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (origin === new URL(publicUrl).origin) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Attaches Socket.IO to the HTTP server and registers the system handlers. */
export function createSocketServer(options: {
  httpServer: HttpServer;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  version: string;
}): KisSocketServer {
  const log = options.logger.child({ component: 'realtime' });
  const io: KisSocketServer = new Server(options.httpServer, {
    serveClient: false,
    // Payloads are small state updates; anything bigger is a mistake or an attack.
    maxHttpBufferSize: 64 * 1024,
    allowRequest: (req, callback) => {
      const ok = isAllowedOrigin(req, options.config.publicUrl);
      if (!ok) log.warn({ origin: req.headers.origin }, 'socket refused: foreign origin');
      callback(ok ? null : 'origin not allowed', ok);
    },
  });

  io.on('connection', (socket) => {
    options.metrics.socketConnections.inc();
    socket.once('disconnect', () => options.metrics.socketConnections.dec());
    socket.emit('system:welcome', { version: options.version, serverTime: new Date().toISOString() });
    socket.on(
      'system:ping',
      handle(pingPayloadSchema, log, async (payload) => ({
        sentAt: payload.sentAt,
        serverTime: new Date().toISOString(),
      })),
    );
  });
  return io;
}
