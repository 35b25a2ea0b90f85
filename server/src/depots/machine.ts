import type { CommandPayload, ReplayState, Telegram } from '@kis/protocol/telegram';
import { assertEvent, assign, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import {
  absorbEvent,
  absorbHeartbeat,
  absorbHello,
  absorbOverdue,
  type Alarm,
  type AlarmKind,
  type CommandUpdate,
  type HistoryEntry,
  type LiveState,
  type PendingCommand,
} from './live-state.js';

/**
 * The life of one depot on the server.
 *
 *   restoring ──► offline ──TELEGRAM──► online ──(3 heartbeat intervals without a telegram)──► offline
 *                                      ├─ normal
 *                                      └─ alarm    (tamper, door open too long, power lost, key overdue)
 *
 * The actor's own offline timer runs from the last accepted telegram (it starts again from it when
 * it fires after newer telegrams), so offline detection is exact to the second. What the depot reports becomes a {@link DepotCommit}:
 * history entries, the new current state, the replay window, the ACK and the commands to (re)send.
 * The depot service writes a commit durably and only then sends the ACK, then the commands, then
 * publishes the new view: the machine itself does no I/O.
 */
export interface DepotInput {
  depotId: string;
  heartbeatMs: number;
  live: LiveState;
  /** The highest event number whose effect was applied. */
  lastEv: number;
  /** The anti-replay window as of the last telegram this actor took in. */
  replay: ReplayState;
  /** Commands still waiting for their RESULT (from the database after a restart). */
  commands: PendingCommand[];
  /** Return times of the depot's PINs that have one (pin id → epoch ms). */
  returnTimes: Record<string, number>;
  now: () => number;
  effects: DepotEffects;
}

/** What one step of the machine asks the service to make durable and then to do. */
export interface DepotCommit {
  depotId: string;
  history: HistoryEntry[];
  live: LiveState;
  lastEv: number;
  replay: ReplayState;
  commandUpdates: CommandUpdate[];
  /** PIN uses the depot reported (pin_accepted events applied now). */
  pinUses: string[];
  /** Sent after the write: the ACK of a depot telegram, to its source address. */
  ack?: { seq: number; ev: number[]; address: string };
  /** Sent after the ACK, in this order. */
  send: Array<{ cmd: number; payload: CommandPayload }>;
  raised: Alarm[];
  /** Set by the service: the send epoch to store before anything is sent under it. */
  sendEpoch?: number;
  /** Set by the service: the depot's state revision this commit makes (one up per commit). */
  rev: number;
  /** Set by the service: the replay reservation stored with this state (replay-reservation.ts). */
  reserved?: number;
}

/** The service's side of the machine. */
export interface DepotEffects {
  commit(commit: DepotCommit): void;
}

export interface DepotContext extends Omit<DepotInput, 'commands'> {
  commands: PendingCommand[];
}

export type DepotEvent =
  | { type: 'TELEGRAM'; telegram: Telegram; seq: number; address: string; receivedAt: number; replay: ReplayState }
  /**
   * A heartbeat that changes nothing but liveness, of an online depot with no command waiting: the
   * runtime worked out the new state (live-state.ts `livenessOnly`) and answers it itself.
   */
  | { type: 'LIVENESS'; live: LiveState; replay: ReplayState }
  | { type: 'COMMAND'; command: PendingCommand }
  | { type: 'COMMAND.EXPIRED'; cmd: number }
  | { type: 'LOAN.DUE'; comp: number; pinId: string }
  | { type: 'PIN.RETURN_BY'; pinId: string; returnBy: number | null }
  | { type: 'ALARM.CLEAR'; kind: AlarmKind; comp?: number; by: string }
  | { type: 'CONFIGURE'; heartbeatMs: number };

/** How many heartbeat intervals without a telegram make a depot offline. */
export const MISSED_INTERVALS = 3;

function offlineAt(context: Pick<DepotContext, 'live' | 'heartbeatMs'>): number {
  return (context.live.lastSeen ?? 0) + MISSED_INTERVALS * context.heartbeatMs;
}

/** A commit that changes nothing yet: what a step of the machine (or the runtime's LIVENESS) fills in. */
export function emptyCommit(context: Pick<DepotContext, 'depotId' | 'live' | 'lastEv' | 'replay'>): DepotCommit {
  return {
    depotId: context.depotId,
    history: [],
    live: context.live,
    lastEv: context.lastEv,
    replay: context.replay,
    rev: 0,
    commandUpdates: [],
    pinUses: [],
    send: [],
    raised: [],
  };
}

/** Marks every waiting command as (re)sent and lists it for the commit. */
function sendPending(commands: PendingCommand[], commit: DepotCommit, at: number): PendingCommand[] {
  return commands.map((c) => {
    const sent: PendingCommand = { ...c, state: 'sent', attempts: c.attempts + 1 };
    commit.send.push({ cmd: c.cmd, payload: c.payload });
    commit.commandUpdates.push({ cmd: c.cmd, op: c.payload.op, state: 'sent', attempts: sent.attempts, at });
    return sent;
  });
}

export const depotMachine = setup({
  types: {
    input: {} as DepotInput,
    context: {} as DepotContext,
    events: {} as DepotEvent,
  },
  delays: {
    heartbeatTimeout: ({ context }) => Math.max(0, offlineAt(context) - context.now()),
  },
  guards: {
    onlineAtRestore: ({ context }) => context.live.online && offlineAt(context) > context.now(),
    staleAtRestore: ({ context }) => context.live.online,
    hasAlarms: ({ context }) => context.live.alarms.length > 0,
    noAlarms: ({ context }) => context.live.alarms.length === 0,
    silentTooLong: ({ context }) => offlineAt(context) <= context.now(),
  },
  actions: {
    /** After a restart: timers for command give-up and overdue keys, from the persisted state. */
    scheduleTimers: enqueueActions(({ context, enqueue }) => {
      const now = context.now();
      for (const c of context.commands) {
        enqueue.raise(
          { type: 'COMMAND.EXPIRED', cmd: c.cmd },
          { delay: Math.max(0, c.expiresAt - now), id: `cmd:${c.cmd}` },
        );
      }
      for (const loan of context.live.loans) {
        enqueue.raise(
          { type: 'LOAN.DUE', comp: loan.comp, pinId: loan.pinId },
          { delay: Math.max(0, loan.dueAt - now), id: `loan:${loan.comp}` },
        );
      }
    }),

    /** Takes in an authenticated telegram: state, history, ACK, then every waiting command. */
    absorbTelegram: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'TELEGRAM');
      const at = event.receivedAt;
      const commit = emptyCommit(context);
      commit.replay = event.replay;
      let live: LiveState = { ...context.live, lastSeen: at, address: event.address };
      if (!context.live.online) {
        live = { ...live, online: true };
        commit.history.push({ at, source: 'server', kind: 'online' });
      }
      const ackedEvents: number[] = [];
      let lastEv = context.lastEv;
      let commands = context.commands;
      const { telegram } = event;
      const take = (absorbed: { live: LiveState; history: HistoryEntry[]; raised: Alarm[] }): void => {
        live = absorbed.live;
        commit.history.push(...absorbed.history);
        commit.raised.push(...absorbed.raised);
      };
      switch (telegram.name) {
        case 'HELLO':
          take(absorbHello(live, telegram.payload, at));
          break;
        case 'HEARTBEAT':
          take(absorbHeartbeat(live, telegram.payload, at));
          break;
        case 'EVENT': {
          const event = telegram.payload;
          const apply = event.ev > lastEv;
          take(absorbEvent(live, event, at, apply, (pinId) => context.returnTimes[pinId]));
          if (apply) {
            lastEv = event.ev;
            if (event.kind === 'pin_accepted' && event.pin) commit.pinUses.push(event.pin);
            const loan = live.loans.find((l) => l.comp === event.comp && l.pinId === event.pin);
            if (event.kind === 'key_removed' && loan) {
              enqueue.raise(
                { type: 'LOAN.DUE', comp: loan.comp, pinId: loan.pinId },
                { delay: Math.max(0, loan.dueAt - context.now()), id: `loan:${loan.comp}` },
              );
            }
          }
          ackedEvents.push(event.ev);
          break;
        }
        case 'RESULT': {
          const result = telegram.payload;
          const pending = commands.find((c) => c.cmd === result.cmd);
          // A RESULT for a command that is settled already is a repeat: nothing to do.
          if (pending) {
            commands = commands.filter((c) => c !== pending);
            enqueue.cancel(`cmd:${pending.cmd}`);
            const pinId = 'pinId' in pending.payload ? pending.payload.pinId : undefined;
            commit.commandUpdates.push({
              cmd: pending.cmd,
              op: pending.payload.op,
              state: result.ok ? 'succeeded' : 'failed',
              ...(result.err ? { error: result.err } : {}),
              ...(pinId ? { pinId } : {}),
              ...(result.ok && pending.payload.op === 'config' && pending.payload.hb ? { hb: pending.payload.hb } : {}),
              at,
            });
            commit.history.push({
              at,
              source: 'server',
              kind: result.ok ? 'command_succeeded' : 'command_failed',
              info: [pending.payload.op, result.err].filter(Boolean).join(': '),
              ...('comp' in pending.payload ? { comp: pending.payload.comp } : {}),
              ...(pinId ? { pinId } : {}),
            });
          }
          break;
        }
        default:
          break;
      }
      commit.ack = { seq: event.seq, ev: ackedEvents, address: event.address };
      commands = sendPending(commands, commit, at);
      commit.live = live;
      commit.lastEv = lastEv;
      enqueue.assign({ live, lastEv, commands, replay: event.replay });
      enqueue(() => context.effects.commit(commit));
    }),

    goOffline: enqueueActions(({ context, enqueue }) => {
      const at = Math.max(offlineAt(context), 0);
      const live: LiveState = { ...context.live, online: false };
      const commit = emptyCommit(context);
      commit.live = live;
      commit.history.push({ at, source: 'server', kind: 'offline' });
      enqueue.assign({ live });
      enqueue(() => context.effects.commit(commit));
    }),

    /** A user's command: queued, and sent at once when the depot is online (it resends after each telegram). */
    queueCommand: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'COMMAND');
      const commit = emptyCommit(context);
      let queued = [event.command];
      if (context.live.online && context.live.address) queued = sendPending(queued, commit, context.now());
      enqueue.assign({ commands: [...context.commands, ...queued] });
      enqueue.raise(
        { type: 'COMMAND.EXPIRED', cmd: event.command.cmd },
        { delay: Math.max(0, event.command.expiresAt - context.now()), id: `cmd:${event.command.cmd}` },
      );
      if (commit.send.length) enqueue(() => context.effects.commit(commit));
    }),

    expireCommand: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'COMMAND.EXPIRED');
      const pending = context.commands.find((c) => c.cmd === event.cmd);
      if (!pending) return;
      const at = context.now();
      const commit = emptyCommit(context);
      const pinId = 'pinId' in pending.payload ? pending.payload.pinId : undefined;
      commit.commandUpdates.push({
        cmd: pending.cmd,
        op: pending.payload.op,
        state: 'expired',
        at,
        ...(pinId ? { pinId } : {}),
      });
      commit.history.push({ at, source: 'server', kind: 'command_expired', info: pending.payload.op });
      enqueue.assign({ commands: context.commands.filter((c) => c !== pending) });
      enqueue(() => context.effects.commit(commit));
    }),

    raiseOverdue: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'LOAN.DUE');
      const absorbed = absorbOverdue(context.live, event.comp, event.pinId, context.now());
      if (!absorbed.raised.length) return;
      const commit = {
        ...emptyCommit(context),
        live: absorbed.live,
        history: absorbed.history,
        raised: absorbed.raised,
      };
      enqueue.assign({ live: absorbed.live });
      enqueue(() => context.effects.commit(commit));
    }),

    clearAlarm: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'ALARM.CLEAR');
      const alarms = context.live.alarms.filter(
        (a) => !(a.kind === event.kind && (event.comp === undefined || a.comp === event.comp)),
      );
      if (alarms.length === context.live.alarms.length) return;
      const live = { ...context.live, alarms };
      const commit = emptyCommit(context);
      commit.live = live;
      commit.history.push({
        at: context.now(),
        source: 'user',
        kind: 'alarm_cleared',
        info: `${event.kind} (${event.by})`,
        ...(event.comp !== undefined ? { comp: event.comp } : {}),
      });
      enqueue.assign({ live });
      enqueue(() => context.effects.commit(commit));
    }),

    setReturnTime: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'PIN.RETURN_BY');
      const returnTimes = Object.fromEntries(Object.entries(context.returnTimes).filter(([id]) => id !== event.pinId));
      if (event.returnBy !== null) returnTimes[event.pinId] = event.returnBy;
      enqueue.assign({ returnTimes });
    }),

    takeLiveness: assign(({ event }) => {
      assertEvent(event, 'LIVENESS');
      return { live: event.live, replay: event.replay };
    }),

    configure: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'CONFIGURE');
      enqueue.assign({ heartbeatMs: event.heartbeatMs });
    }),
  },
}).createMachine({
  id: 'depot',
  context: ({ input }) => ({ ...input }),
  initial: 'restoring',
  on: {
    COMMAND: { actions: 'queueCommand' },
    'COMMAND.EXPIRED': { actions: 'expireCommand' },
    'LOAN.DUE': { actions: 'raiseOverdue' },
    'ALARM.CLEAR': { actions: 'clearAlarm' },
    'PIN.RETURN_BY': { actions: 'setReturnTime' },
    CONFIGURE: { actions: 'configure' },
  },
  states: {
    restoring: {
      entry: 'scheduleTimers',
      always: [
        { guard: 'onlineAtRestore', target: 'online' },
        // It was online when the last process stopped and its time ran out since.
        { guard: 'staleAtRestore', target: 'offline', actions: 'goOffline' },
        { target: 'offline' },
      ],
    },
    offline: {
      on: { TELEGRAM: { target: 'online', actions: 'absorbTelegram' } },
    },
    online: {
      initial: 'sorting',
      // The offline timer runs from the entry; when it fires after telegrams came, it starts again
      // from the last one. Restarting it on every telegram instead cost a fifth of the actor's
      // time per heartbeat (exiting and entering states, cancelling and scheduling; --cpu-prof).
      after: {
        heartbeatTimeout: [
          { guard: 'silentTooLong', target: 'offline', actions: 'goOffline' },
          { target: 'online', reenter: true },
        ],
      },
      on: {
        TELEGRAM: { actions: 'absorbTelegram' },
        LIVENESS: { actions: 'takeLiveness' },
        'LOAN.DUE': { actions: 'raiseOverdue' },
        'ALARM.CLEAR': { actions: 'clearAlarm' },
        CONFIGURE: { target: 'online', reenter: true, actions: 'configure' },
      },
      states: {
        sorting: {
          always: [{ guard: 'hasAlarms', target: 'alarm' }, { target: 'normal' }],
        },
        normal: { always: { guard: 'hasAlarms', target: 'alarm' } },
        alarm: { always: { guard: 'noAlarms', target: 'normal' } },
      },
    },
  },
});

export type DepotActor = ActorRefFrom<typeof depotMachine>;
