import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { pingPayloadSchema, type ClientToServerEvents, type ServerToClientEvents } from '@kis/protocol/realtime';
import type { Config } from '../config.js';
import { normalizeIp } from '../identity/ip.js';
import * as sessions from '../identity/sessions.js';
import type { Logger } from '../logger.js';
import type { Caller } from '../identity/service.js';
import type { Metrics } from '../metrics.js';
import { handle } from './handle.js';

/** What the server keeps about a socket. */
export interface SocketData {
  /** The session the socket authenticated with; absent for the anonymous sockets of the login pages. */
  sessionId?: string;
  userId?: string;
  cookie?: string;
  ip: string;
}

/** The typed Socket.IO server of KIS. */
export type KisSocketServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type KisSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/**
 * Re-checks the rooms a module put a socket in against the caller's current access, with the same
 * rules that admitted it, and leaves those it may no longer be in.
 */
export type AccessReview = (caller: Caller) => Promise<void>;

/** A module's socket handlers: registered on every connection. */
export type SocketModule = (
  socket: KisSocket,
  tools: {
    log: Logger;
    /**
     * The caller behind the socket, checked afresh. `activity` for an event that is something the
     * user did (typing in a text): it keeps the session alive. Nothing else a socket sends does
     * (pings, joins, cursor moves): the page sends those by itself.
     */
    caller: (options?: { activity?: boolean }) => Promise<Caller | undefined>;
    /** Registers the module's {@link AccessReview} for this socket. */
    onAccessReview: (review: AccessReview) => void;
  },
) => void;

/** The reviews the modules registered per socket; gone with the socket. */
const reviews = new WeakMap<KisSocket, AccessReview[]>();
/** Where reviews that fail are logged, per server. */
const reviewLogs = new WeakMap<KisSocketServer, Logger>();

/** The room of area-2 news for the domain of an address (a plus-address counts by its domain). */
function mailDomainRoom(email: string): string {
  return `maildomain:${email.slice(email.lastIndexOf('@') + 1).toLowerCase()}`;
}

/**
 * Takes a socket out of every room that brings content (depots, documents, areas, admin), leaving
 * only its own and its session's, so the end of a session can still be told before it closes.
 */
function leaveContentRooms(socket: KisSocket): void {
  for (const room of [...socket.rooms]) {
    if (room !== socket.id && !room.startsWith('session:')) void socket.leave(room);
  }
}

/** The sockets of this process in a room. */
function localSocketsIn(io: KisSocketServer, room: string): KisSocket[] {
  const ids = io.of('/').adapter.rooms.get(room) ?? new Set<string>();
  return [...ids].flatMap((id) => {
    const socket = io.of('/').sockets.get(id);
    return socket ? [socket] : [];
  });
}

/**
 * Re-checks one socket of a user: the session is authenticated again (status, allowed addresses,
 * binding), the base rooms follow the account, and every module reviews its rooms. A socket whose
 * session no longer holds leaves every content room at once and is disconnected.
 */
async function reviewSocket(socket: KisSocket): Promise<void> {
  const caller = await socketCaller(socket);
  if (!caller) {
    leaveContentRooms(socket);
    // A moment for the session's end to reach the browser, as the session notifier does.
    setTimeout(() => socket.disconnect(true), 100).unref();
    return;
  }
  if (caller.role !== 'admin') await socket.leave('admin');
  const domainRoom = mailDomainRoom(caller.email);
  for (const room of [...socket.rooms]) {
    if (room.startsWith('maildomain:') && room !== domainRoom) await socket.leave(room);
  }
  // An address moved to another domain: its news follow (a closed socket joins nothing).
  if (socket.connected && !socket.rooms.has(domainRoom)) await socket.join(domainRoom);
  for (const review of reviews.get(socket) ?? []) await review(caller);
}

/**
 * Re-checks every open socket of a user against their current access, right after a change of
 * rights, status, allowed addresses or grants, and resolves once done. A review that fails
 * disconnects the socket: when in doubt, the browser reconnects and is admitted afresh.
 */
export async function reviewUserSockets(io: KisSocketServer, userId: string): Promise<void> {
  await Promise.all(
    localSocketsIn(io, `user:${userId}`).map((socket) =>
      reviewSocket(socket).catch((err: unknown) => {
        reviewLogs.get(io)?.error({ err, userId }, 'socket access review failed; disconnecting');
        leaveContentRooms(socket);
        socket.disconnect(true);
      }),
    ),
  );
}

/**
 * The caller behind a socket, checked afresh (rights may have changed since the handshake). Counts
 * as the user's activity only when `activity` is set.
 */
export async function socketCaller(socket: KisSocket, activity = false): Promise<Caller | undefined> {
  const { cookie, ip } = socket.data;
  if (!cookie) return undefined;
  try {
    const session = await sessions.authenticate({ cookie, ip, requireCsrf: false, activity });
    const { user } = session;
    return {
      userId: user.id,
      role: user.role,
      email: user.email,
      organizationId: user.organizationId,
      accountType: user.accountType,
      rights: user.rights,
      ip,
      sessionId: session.id,
    };
  } catch {
    return undefined;
  }
}

/**
 * True when a browser's Origin is this portal: the public URL, or the host the request was sent to.
 * A missing Origin (same-origin polling GETs, non-browser clients) is let through; the session
 * cookie (SameSite=Strict) plus the CSRF token in the handshake is what admits a user.
 */
export function isAllowedOrigin(req: IncomingMessage, publicUrl: string): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (origin === new URL(publicUrl).origin) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

/** Attaches Socket.IO to the HTTP server: handshake authentication, session push, system handlers. */
export function createSocketServer(options: {
  httpServer: HttpServer;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  version: string;
  /** The session cookie of an identity slot (see http/auth.ts). */
  cookieNameFor: (slot: number) => string;
  maxIdentities: number;
  /** The HTTP app, for its cookie parser. */
  http: Pick<FastifyInstance, 'parseCookie'>;
  /** The client address of a handshake, honouring trusted proxies like the HTTP layer. */
  clientIp: (req: IncomingMessage) => string;
  /** Module handlers (depots, documents, …). */
  modules?: readonly SocketModule[];
}): KisSocketServer {
  const log = options.logger.child({ component: 'realtime' });
  const io: KisSocketServer = new Server(options.httpServer, {
    serveClient: false,
    // Payloads are small state updates, or an area-3 edit: a long paste is up to a few hundred KiB.
    // Anything bigger is a mistake or an attack; every handler checks its payload besides.
    maxHttpBufferSize: 2 * 1024 * 1024,
    allowRequest: (req, callback) => {
      const ok = isAllowedOrigin(req, options.config.publicUrl);
      if (!ok) log.warn({ origin: req.headers.origin }, 'socket refused: foreign origin');
      callback(ok ? null : 'origin not allowed', ok);
    },
  });

  // Handshake: a socket with the session cookie and the CSRF token is the user's; without them it is
  // anonymous (login pages show the connection too). A cookie with a wrong token is refused.
  io.use((socket, next) => {
    const req = socket.request;
    const ip = normalizeIp(options.clientIp(req));
    const auth = socket.handshake.auth as { csrfToken?: unknown; identity?: unknown };
    const slot =
      typeof auth.identity === 'number' &&
      Number.isInteger(auth.identity) &&
      auth.identity >= 0 &&
      auth.identity < options.maxIdentities
        ? auth.identity
        : 0;
    const cookie = options.http.parseCookie(req.headers.cookie ?? '')[options.cookieNameFor(slot)];
    socket.data.ip = ip;
    const csrf = auth.csrfToken;
    if (!cookie || typeof csrf !== 'string') return next();
    sessions
      .authenticate({ cookie, ip, csrfToken: csrf, requireCsrf: true, activity: false })
      .then((session) => {
        socket.data.sessionId = session.id;
        socket.data.userId = session.user.id;
        socket.data.cookie = cookie;
        void socket.join([
          `user:${session.user.id}`,
          `session:${session.id}`,
          // Area 2 news for the domain of the address.
          mailDomainRoom(session.user.email),
          ...(session.user.role === 'admin' ? ['admin'] : []),
        ]);
        next();
      })
      .catch(() => next(new Error('unauthorized')));
  });

  io.on('connection', (socket) => {
    options.metrics.socketConnections.inc();
    socket.once('disconnect', () => options.metrics.socketConnections.dec());

    // Every event of a user's socket re-checks the session and its binding; it is no activity by
    // itself (heartbeats, joins): a handler says when an event was the user's doing.
    socket.use((_packet, next) => {
      const { cookie, ip } = socket.data;
      if (!cookie) return next();
      sessions.authenticate({ cookie, ip, requireCsrf: false, activity: false }).then(
        () => next(),
        () => {
          next(new Error('unauthorized'));
          socket.disconnect(true);
        },
      );
    });

    socket.emit('system:welcome', {
      version: options.version,
      serverTime: new Date().toISOString(),
      authenticated: socket.data.sessionId !== undefined,
    });
    socket.on(
      'system:ping',
      handle(pingPayloadSchema, log, async (payload) => ({
        sentAt: payload.sentAt,
        serverTime: new Date().toISOString(),
      })),
    );
    const own: AccessReview[] = [];
    reviews.set(socket, own);
    for (const module of options.modules ?? []) {
      module(socket, {
        log,
        caller: (callerOptions) => socketCaller(socket, callerOptions?.activity ?? false),
        onAccessReview: (review) => own.push(review),
      });
    }
  });
  reviewLogs.set(io, log);

  sessions.setNotifier({
    warning: (sessionId, expiresAt) => io.to(`session:${sessionId}`).emit('session:expiring', { expiresAt }),
    extended: (sessionId, expiresAt) => io.to(`session:${sessionId}`).emit('session:extended', { expiresAt }),
    ended: (sessionId, reason) => {
      io.to(`session:${sessionId}`).emit('session:ended', { reason });
      // Nothing more reaches them, but let the message go out before the sockets close.
      for (const socket of localSocketsIn(io, `session:${sessionId}`)) leaveContentRooms(socket);
      setTimeout(() => io.in(`session:${sessionId}`).disconnectSockets(true), 100).unref();
    },
    accessChanged: (userId) => reviewUserSockets(io, userId),
  });
  return io;
}
