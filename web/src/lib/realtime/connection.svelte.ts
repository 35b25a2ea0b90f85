import { getContext, setContext } from 'svelte';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents, WelcomePayload } from '@kis/protocol/realtime';

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
    this.socket = io({ transports: ['websocket', 'polling'] });
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
