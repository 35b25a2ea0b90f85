import type { CommandPayload, EventPayload, HeartbeatPayload, HelloPayload } from '@kis/protocol/telegram';

/** What the depot's door reports; unknown until the first heartbeat or door event. */
export type DoorState = 'open' | 'closed' | 'unknown';
export type PowerState = 'mains' | 'battery' | 'unknown';

/** One compartment as last reported; null while the depot has not said. */
export interface CompartmentState {
  n: number;
  key: boolean | null;
  locked: boolean | null;
}

/** Conditions that need a person's attention. */
export type AlarmKind = 'tamper' | 'door_open_too_long' | 'power_lost' | 'key_overdue';
export const ALARM_KINDS: ReadonlySet<AlarmKind> = new Set([
  'tamper',
  'door_open_too_long',
  'power_lost',
  'key_overdue',
]);

export interface Alarm {
  kind: AlarmKind;
  /** Epoch ms when it was raised. */
  since: number;
  comp?: number;
  pinId?: string;
}

/** A key taken under a PIN that carries a return time. */
export interface Loan {
  comp: number;
  pinId: string;
  takenAt: number;
  dueAt: number;
}

/** The current state of a depot: what the dashboard shows, persisted in the depot document. */
export interface LiveState {
  online: boolean;
  /** Epoch ms of the last accepted telegram. */
  lastSeen: number | null;
  /** host:port the depot last sent from; commands go there. */
  address: string | null;
  fw: string | null;
  hw: string | null;
  /** Seconds since the depot started, at lastSeen. */
  up: number | null;
  door: DoorState;
  power: PowerState;
  batt: number | null;
  rssi: number | null;
  temp: number | null;
  comps: CompartmentState[];
  alarms: Alarm[];
  loans: Loan[];
}

/**
 * True when `after` differs from `before` only in what a heartbeat refreshes (when it was seen, its
 * uptime, battery, signal and temperature): a change that may be written later, in a batch, since
 * losing it in a crash loses nothing a person acts on. Anything else (online, address, door, power,
 * a compartment, an alarm, a loan) is written before it is answered.
 */
export function onlyLivenessChanged(before: LiveState, after: LiveState): boolean {
  return (
    before.online === after.online &&
    before.address === after.address &&
    before.fw === after.fw &&
    before.hw === after.hw &&
    before.door === after.door &&
    before.power === after.power &&
    sameItems(before.comps, after.comps, (a, b) => a.n === b.n && a.key === b.key && a.locked === b.locked) &&
    sameItems(before.alarms, after.alarms, (a, b) => JSON.stringify(a) === JSON.stringify(b)) &&
    sameItems(before.loans, after.loans, (a, b) => JSON.stringify(a) === JSON.stringify(b))
  );
}

function sameItems<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((item, i) => item === b[i] || same(item, b[i] as T));
}

/** The state of a depot nobody has heard from yet. */
export function initialLiveState(compartments: number): LiveState {
  return {
    online: false,
    lastSeen: null,
    address: null,
    fw: null,
    hw: null,
    up: null,
    door: 'unknown',
    power: 'unknown',
    batt: null,
    rssi: null,
    temp: null,
    comps: Array.from({ length: compartments }, (_, i) => ({ n: i + 1, key: null, locked: null })),
    alarms: [],
    loans: [],
  };
}

/** A history entry before it is stored; `ev` entries get the id `<depot>:ev:<n>`. */
export interface HistoryEntry {
  at: number;
  source: 'depot' | 'state' | 'server' | 'user';
  kind: string;
  ev?: number;
  depotTime?: number;
  comp?: number;
  pinId?: string;
  info?: string;
}

/** A command waiting for its RESULT. */
export interface PendingCommand {
  cmd: number;
  payload: CommandPayload;
  state: 'queued' | 'sent';
  attempts: number;
  /** Epoch ms after which it is given up. */
  expiresAt: number;
}

/** A change of a command's delivery state, to be written to its document. */
export interface CommandUpdate {
  cmd: number;
  op: string;
  state: 'sent' | 'succeeded' | 'failed' | 'expired';
  attempts?: number;
  error?: string;
  at: number;
  pinId?: string;
  /** A `config` command that succeeded: the depot's new heartbeat interval in seconds. */
  hb?: number;
}

function raise(live: LiveState, alarm: Alarm, raised: Alarm[]): LiveState {
  if (live.alarms.some((a) => a.kind === alarm.kind && a.comp === alarm.comp)) return live;
  raised.push(alarm);
  return { ...live, alarms: [...live.alarms, alarm] };
}

function clear(live: LiveState, kind: AlarmKind, comp?: number): LiveState {
  const alarms = live.alarms.filter((a) => !(a.kind === kind && (comp === undefined || a.comp === comp)));
  return alarms.length === live.alarms.length ? live : { ...live, alarms };
}

/**
 * A compartment changed; the same state (and so the same objects) when nothing did. A heartbeat
 * reports every compartment: copying the whole state for each one made most of a heartbeat's
 * garbage, which lived until the depot's next telegram and so reached the old generation.
 */
function setComp(live: LiveState, n: number, change: Partial<CompartmentState>): LiveState {
  const current = live.comps.find((c) => c.n === n);
  if (!current) return live;
  if ((Object.keys(change) as Array<keyof CompartmentState>).every((k) => current[k] === change[k])) return live;
  return { ...live, comps: live.comps.map((c) => (c === current ? { ...c, ...change } : c)) };
}

/** The result of taking in one report: the new state, what enters the history, which alarms went up. */
export interface Absorbed {
  live: LiveState;
  history: HistoryEntry[];
  raised: Alarm[];
}

/** HELLO: the depot (re)started. */
export function absorbHello(live: LiveState, hello: HelloPayload, at: number): Absorbed {
  const info = [`fw ${hello.fw}`, `hw ${hello.hw}`, hello.reason ? `reason ${hello.reason}` : undefined]
    .filter(Boolean)
    .join(', ');
  return {
    live: { ...live, fw: hello.fw, hw: hello.hw, up: 0 },
    history: [{ at, source: 'state', kind: 'depot_started', info }],
    raised: [],
  };
}

/**
 * HEARTBEAT: the depot's current state. What changed against the known state enters the history
 * (so history grows with what happened, not with time); an unknown earlier value is no change.
 */
export function absorbHeartbeat(live: LiveState, hb: HeartbeatPayload, at: number): Absorbed {
  const history: HistoryEntry[] = [];
  const raised: Alarm[] = [];
  let next: LiveState = {
    ...live,
    up: hb.up,
    batt: hb.batt ?? null,
    rssi: hb.rssi ?? null,
    temp: hb.temp ?? null,
  };
  if (live.door !== hb.door) {
    if (live.door !== 'unknown')
      history.push({ at, source: 'state', kind: hb.door === 'open' ? 'door_opened' : 'door_closed' });
    next = { ...next, door: hb.door };
    if (hb.door === 'closed') next = clear(next, 'door_open_too_long');
  }
  if (live.power !== hb.power) {
    if (live.power !== 'unknown' || hb.power === 'battery')
      history.push({ at, source: 'state', kind: hb.power === 'battery' ? 'power_lost' : 'power_restored' });
    next = { ...next, power: hb.power };
    next = hb.power === 'battery' ? raise(next, { kind: 'power_lost', since: at }, raised) : clear(next, 'power_lost');
  }
  for (const reported of hb.comps) {
    const known = next.comps.find((c) => c.n === reported.n);
    if (!known) continue;
    if (known.key !== null && known.key !== reported.key)
      history.push({ at, source: 'state', kind: reported.key ? 'key_returned' : 'key_removed', comp: reported.n });
    if (known.locked !== null && known.locked !== reported.locked)
      history.push({ at, source: 'state', kind: reported.locked ? 'locked' : 'unlocked', comp: reported.n });
    if (reported.key && known.key === false) next = returnKey(next, reported.n);
    next = setComp(next, reported.n, { key: reported.key, locked: reported.locked });
  }
  return { live: next, history, raised };
}

/**
 * The state after a heartbeat of an online depot that changes nothing but its liveness (door, power
 * and every compartment as they were): what the actor's absorbTelegram and {@link absorbHeartbeat}
 * give then, without their bookkeeping. Undefined when the heartbeat changes more. The runtime
 * answers most heartbeats through this (machine.ts `LIVENESS`).
 */
export function livenessOnly(
  live: LiveState,
  hb: HeartbeatPayload,
  at: number,
  address: string,
): LiveState | undefined {
  if (!live.online || live.door !== hb.door || live.power !== hb.power) return undefined;
  for (const reported of hb.comps) {
    const known = live.comps.find((c) => c.n === reported.n);
    if (known && (known.key !== reported.key || known.locked !== reported.locked)) return undefined;
  }
  return {
    ...live,
    lastSeen: at,
    address,
    up: hb.up,
    batt: hb.batt ?? null,
    rssi: hb.rssi ?? null,
    temp: hb.temp ?? null,
  };
}

function returnKey(live: LiveState, comp: number): LiveState {
  const loans = live.loans.filter((l) => l.comp !== comp);
  return clear({ ...live, loans }, 'key_overdue', comp);
}

/**
 * EVENT: stored as it came; its effect on the current state is applied only when it is newer than
 * every event applied so far (a repeated or late event must not turn the state back).
 *
 * @param returnByOf the return time of a PIN (epoch ms), if it has one
 */
export function absorbEvent(
  live: LiveState,
  event: EventPayload,
  at: number,
  apply: boolean,
  returnByOf: (pinId: string) => number | undefined,
): Absorbed {
  const history: HistoryEntry[] = [
    {
      at,
      source: 'depot',
      kind: event.kind,
      ev: event.ev,
      depotTime: event.t,
      ...(event.comp !== undefined ? { comp: event.comp } : {}),
      ...(event.pin !== undefined ? { pinId: event.pin } : {}),
      ...(event.info !== undefined ? { info: event.info } : {}),
    },
  ];
  const raised: Alarm[] = [];
  if (!apply) return { live, history, raised };
  let next = live;
  const comp = event.comp;
  switch (event.kind) {
    case 'key_removed':
      if (comp !== undefined) {
        next = setComp(next, comp, { key: false });
        const dueAt = event.pin ? returnByOf(event.pin) : undefined;
        if (event.pin && dueAt !== undefined) {
          next = {
            ...next,
            loans: [...next.loans.filter((l) => l.comp !== comp), { comp, pinId: event.pin, takenAt: at, dueAt }],
          };
        }
      }
      break;
    case 'key_returned':
      if (comp !== undefined) next = returnKey(setComp(next, comp, { key: true }), comp);
      break;
    case 'door_opened':
      next = { ...next, door: 'open' };
      break;
    case 'door_closed':
      next = clear({ ...next, door: 'closed' }, 'door_open_too_long');
      break;
    case 'door_open_too_long':
      next = raise({ ...next, door: 'open' }, { kind: 'door_open_too_long', since: at }, raised);
      break;
    case 'tamper':
      next = raise(next, { kind: 'tamper', since: at, ...(comp !== undefined ? { comp } : {}) }, raised);
      break;
    case 'power_lost':
      next = raise({ ...next, power: 'battery' }, { kind: 'power_lost', since: at }, raised);
      break;
    case 'power_restored':
      next = clear({ ...next, power: 'mains' }, 'power_lost');
      break;
    default:
      // pin_accepted, pin_rejected and unknown kinds change nothing the dashboard shows.
      break;
  }
  return { live: next, history, raised };
}

/** A loan's return time passed with the key still out: the overdue alarm. */
export function absorbOverdue(live: LiveState, comp: number, pinId: string, at: number): Absorbed {
  const loan = live.loans.find((l) => l.comp === comp && l.pinId === pinId);
  if (!loan) return { live, history: [], raised: [] };
  const raised: Alarm[] = [];
  const next = raise(live, { kind: 'key_overdue', since: at, comp, pinId }, raised);
  return {
    live: next,
    history: raised.length ? [{ at, source: 'server', kind: 'key_overdue', comp, pinId }] : [],
    raised,
  };
}
