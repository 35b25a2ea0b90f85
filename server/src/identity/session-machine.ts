import { assign, setup } from 'xstate';
import type { SessionEndReason } from './session-model.js';

/**
 * The life of one login session.
 *
 *   live.active ──(idle − warning)──► live.warned ──(warning)──► ended (timeout)
 *        ▲                                 │
 *        └──────────── ACTIVITY ───────────┘
 *   live ──(absolute expiry)──► ended (absolute)        live ──END──► ended (logout, revoked, …)
 *
 * Side effects (persisting, telling the browser) are actions the session service provides.
 */
export interface SessionInput {
  sessionId: string;
  userId: string;
  idleMs: number;
  warnMs: number;
  /** Epoch ms of the last activity (login, or the persisted value after a restart). */
  lastActivityAt: number;
  /** Epoch ms when the session ends however active it is. */
  absoluteExpiresAt: number;
  /** The clock; tests pass a simulated one. */
  now: () => number;
}

export interface SessionContext extends SessionInput {
  endReason?: SessionEndReason;
}

export type SessionEvent = { type: 'ACTIVITY' } | { type: 'END'; reason: SessionEndReason };

/** Epoch ms when the idle timeout ends this session, given its context. */
export function idleExpiresAt(
  context: Pick<SessionContext, 'lastActivityAt' | 'idleMs' | 'absoluteExpiresAt'>,
): number {
  return Math.min(context.lastActivityAt + context.idleMs, context.absoluteExpiresAt);
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    input: {} as SessionInput,
    events: {} as SessionEvent,
  },
  delays: {
    untilWarning: ({ context }) =>
      Math.max(0, context.lastActivityAt + context.idleMs - context.warnMs - context.now()),
    untilIdleEnd: ({ context }) => Math.max(0, context.lastActivityAt + context.idleMs - context.now()),
    untilAbsolute: ({ context }) => Math.max(0, context.absoluteExpiresAt - context.now()),
  },
  actions: {
    touch: assign({ lastActivityAt: ({ context }) => context.now() }),
    // Provided by the session service:
    persistActivity: () => undefined,
    warn: () => undefined,
    extended: () => undefined,
    ended: () => undefined,
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ ...input }),
  initial: 'live',
  states: {
    live: {
      initial: 'active',
      after: {
        untilAbsolute: { target: 'ended', actions: assign({ endReason: 'absolute' as const }) },
      },
      on: {
        END: { target: 'ended', actions: assign({ endReason: ({ event }) => event.reason }) },
      },
      states: {
        active: {
          after: { untilWarning: 'warned' },
          on: {
            ACTIVITY: { target: 'active', reenter: true, actions: ['touch', 'persistActivity'] },
          },
        },
        warned: {
          entry: 'warn',
          after: {
            untilIdleEnd: { target: '#session.ended', actions: assign({ endReason: 'timeout' as const }) },
          },
          on: {
            ACTIVITY: { target: 'active', actions: ['touch', 'persistActivity', 'extended'] },
          },
        },
      },
    },
    ended: {
      type: 'final',
      entry: 'ended',
    },
  },
});
