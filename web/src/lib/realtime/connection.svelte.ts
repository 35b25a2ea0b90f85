import { getContext, setContext } from 'svelte';
import { io, type Socket } from 'socket.io-client';
import type {
  ClientToServerEvents,
  ServerToClientEvents,
  SessionEndedPayload,
  WelcomePayload,
} from '@kis/protocol/realtime';

/** What the page does when the server speaks about the session. */
export interface SessionListener {
  expiring(expiresAt: number): void;
  extended(expiresAt: number): void;
  ended(reason: SessionEndedPayload['reason']): void;
}

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected';
export type KisSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const CONTEXT_KEY = Symbol('connection');
/** How often the round trip is measured while connected. */
const PING_INTERVAL_MS = 15_000;

/**
 * The browser's one Socket.IO connection and what the UI shows about it. Socket.IO reconnects by
 * itself with backoff; this class only mirrors its state.
 */
export class Connection {
  status = $state<ConnectionStatus>('connecting');
  welcome = $state<WelcomePayload | undefined>(undefined);
  /** Last measured round trip in ms. */
  roundTripMs = $state<number | undefined>(undefined);
  readonly socket: KisSocket;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    this.socket = io({ transports: ['websocket', 'polling'], autoConnect: false });
    this.socket.on('connect', () => {
      this.status = 'connected';
      this.ping();
    });
    this.socket.on('disconnect', () => {
      this.status = 'disconnected';
    });
    this.socket.on('connect_error', () => {
      this.status = 'disconnected';
    });
    this.socket.io.on('reconnect_attempt', () => {
      this.status = 'connecting';
    });
    this.socket.on('system:welcome', (payload) => {
      this.welcome = payload;
    });
    this.timer = setInterval(() => this.ping(), PING_INTERVAL_MS);
  }

  /** Forwards session warnings and forced logouts to the page. */
  onSession(listener: SessionListener): void {
    this.socket.on('session:expiring', (p) => listener.expiring(p.expiresAt));
    this.socket.on('session:extended', (p) => listener.extended(p.expiresAt));
    this.socket.on('session:ended', (p) => listener.ended(p.reason));
  }

  /**
   * Reconnects as the signed-in user (with the session's CSRF token; the cookie travels by itself)
   * or as anonymous after logout.
   */
  authenticate(csrfToken: string | undefined, identity = 0): void {
    const current = (this.socket.auth as { csrfToken?: string } | undefined)?.csrfToken;
    if (current === csrfToken && this.socket.connected) return;
    this.socket.auth = csrfToken ? { csrfToken, identity } : {};
    this.socket.disconnect().connect();
  }

  /** Measures the round trip to the server. */
  ping(): void {
    if (!this.socket.connected) return;
    const sentAt = Date.now();
    this.socket.timeout(5000).emit('system:ping', { sentAt }, (err, answer) => {
      if (!err && answer.ok) this.roundTripMs = Date.now() - answer.value.sentAt;
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

/** Provides the connection to the component tree (root layout). */
export function setConnection(connection: Connection): Connection {
  return setContext(CONTEXT_KEY, connection);
}

/** The connection from the root layout. */
export function getConnection(): Connection {
  return getContext<Connection>(CONTEXT_KEY);
}
