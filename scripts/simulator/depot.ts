import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import {
  Direction,
  accept,
  emptyReplayState,
  openTelegram,
  parseDepotId,
  parseHeader,
  sealTelegram,
  type AckPayload,
  type CommandPayload,
  type ReplayState,
  type TelegramTypeName,
} from '@kis/protocol/telegram';

/** A depot's provisioning file (depot-protocol.md). */
export interface Provisioning {
  depotId: string;
  keyId: number;
  key: string;
  server: string;
  heartbeat: number;
}

/** What a depot keeps across restarts: its boot counter and event counter (and a new key after rekey). */
export interface DepotMemory {
  epoch: number;
  nextEv: number;
  /** How many compartments the depot has (hardware; written when a demo depot is registered). */
  compartments?: number;
  keyId?: number;
  key?: string;
}

interface StoredPin {
  pinId: string;
  comp: number;
  pin: string;
  from?: number;
  until?: number;
  usesLeft?: number;
}

export interface SimulatedDepotOptions {
  compartments: number;
  /** Persisted state of an earlier run; the epoch goes up by one at start. */
  memory?: DepotMemory;
  /** Heartbeat interval in ms (default: the provisioning file's seconds). */
  heartbeatMs?: number;
  /** Resend an unacknowledged event after this long (ms). */
  eventRetryMs?: number;
  /** Ignore this many COMMAND telegrams (as if lost on the way), to exercise retries. */
  dropCommands?: number;
  fw?: string;
}

/**
 * A key depot that speaks depot-protocol.md v1 over real UDP: HELLO at start, HEARTBEATs,
 * EVENTs repeated until acknowledged, commands executed once with their RESULT repeated for
 * duplicates, PINs that open compartments. Used by `npm run simulate`, the tests and the benchmarks.
 *
 * Emits `ack` (AckPayload), `command` (CommandPayload), `memory` (DepotMemory, to persist).
 */
export class SimulatedDepot extends EventEmitter {
  readonly depotId: bigint;
  private key: Buffer;
  private keyId: number;
  private nextKey: { keyId: number; key: Buffer } | undefined;
  /** The key before a rekey: answers to telegrams sealed with it still arrive. */
  private previousKey: Buffer | undefined;
  private readonly server: { host: string; port: number };
  private socket: dgram.Socket | undefined;
  readonly epoch: number;
  private seq = 0;
  private nextEv: number;
  private replay: ReplayState = emptyReplayState();
  private heartbeatMs: number;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly unacked = new Map<number, { payload: Record<string, unknown>; sentAt: number }>();
  private readonly results = new Map<number, { ok: boolean; err?: string }>();
  private readonly pins = new Map<string, StoredPin>();
  private dropCommands: number;
  /** The physical state. */
  door: 'open' | 'closed' = 'closed';
  power: 'mains' | 'battery' = 'mains';
  readonly comps: Array<{ n: number; key: boolean; locked: boolean }>;
  /** Everything received, for tests. */
  readonly received = { acks: 0, commands: 0, dropped: 0 };
  private readonly startedAt = Date.now();

  constructor(
    provisioning: Provisioning,
    private readonly options: SimulatedDepotOptions,
  ) {
    super();
    const id = parseDepotId(provisioning.depotId);
    if (id === undefined) throw new Error(`bad depot id ${provisioning.depotId}`);
    this.depotId = id;
    const memory = options.memory;
    this.keyId = memory?.keyId ?? provisioning.keyId;
    this.key = Buffer.from(memory?.key ?? provisioning.key, 'base64');
    if (this.key.length !== 32) throw new Error('a depot key has 32 bytes');
    const [host, port] = splitHostPort(provisioning.server);
    this.server = { host, port };
    this.epoch = (memory?.epoch ?? 0) + 1;
    this.nextEv = memory?.nextEv ?? 1;
    this.heartbeatMs = options.heartbeatMs ?? provisioning.heartbeat * 1000;
    this.dropCommands = options.dropCommands ?? 0;
    this.comps = Array.from({ length: options.compartments }, (_, i) => ({ n: i + 1, key: true, locked: true }));
  }

  /** What to persist now (the boot counter is already raised for this run). */
  memory(): DepotMemory {
    return {
      epoch: this.epoch,
      nextEv: this.nextEv,
      compartments: this.comps.length,
      ...(this.keyId ? { keyId: this.keyId, key: this.key.toString('base64') } : {}),
    };
  }

  /** Binds a socket, says HELLO and starts the heartbeat. */
  async start(reason = 'power_on'): Promise<void> {
    const socket = dgram.createSocket(this.server.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg) => this.receive(msg));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    this.socket = socket;
    this.emit('memory', this.memory());
    this.send('HELLO', { fw: this.options.fw ?? 'sim-1.0', hw: 'kis-sim', comps: this.comps.length, reason });
    this.heartbeat();
    this.schedule();
    this.retryTimer = setInterval(() => this.retryEvents(), Math.max(100, (this.options.eventRetryMs ?? 2000) / 2));
  }

  /** Stops sending (a power cut: nothing more is said). */
  stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.retryTimer);
    const socket = this.socket;
    this.socket = undefined;
    return new Promise((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
  }

  /** The local port (tests send forged datagrams "from" it). */
  get port(): number {
    return this.socket?.address().port ?? 0;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.heartbeat();
      this.schedule();
    }, this.heartbeatMs);
  }

  /** Sends a HEARTBEAT now. */
  heartbeat(): void {
    this.send('HEARTBEAT', {
      up: Math.floor((Date.now() - this.startedAt) / 1000),
      door: this.door,
      comps: this.comps.map((c) => ({ ...c })),
      power: this.power,
      batt: this.power === 'battery' ? 80 : 100,
      rssi: -67,
      temp: 21.5,
    });
  }

  /** Reports an event; it is repeated until the server acknowledges its number. Returns the number. */
  event(kind: string, extra: { comp?: number; pin?: string; info?: string } = {}): number {
    const ev = this.nextEv++;
    this.emit('memory', this.memory());
    const payload = { ev, t: Date.now(), kind, ...extra };
    this.unacked.set(ev, { payload, sentAt: Date.now() });
    this.send('EVENT', payload);
    return ev;
  }

  /** Repeats one event as it was (a lost ACK, or a test of "stored once"). */
  repeatEvent(ev: number): void {
    const pending = this.unacked.get(ev);
    if (pending) this.send('EVENT', pending.payload);
  }

  /** Event numbers still waiting for their ACK. */
  get pendingEvents(): number[] {
    return [...this.unacked.keys()];
  }

  private retryEvents(): void {
    const now = Date.now();
    for (const [, pending] of this.unacked) {
      if (now - pending.sentAt >= (this.options.eventRetryMs ?? 2000)) {
        pending.sentAt = now;
        this.send('EVENT', pending.payload);
      }
    }
  }

  /** Someone types a PIN: accepted when it is valid for now, and its compartment unlocks. */
  enterPin(digits: string): { pinId: string; comp: number } | undefined {
    const now = Date.now();
    const match = [...this.pins.values()].find(
      (p) =>
        p.pin === digits &&
        (p.from === undefined || p.from <= now) &&
        (p.until === undefined || now < p.until) &&
        (p.usesLeft === undefined || p.usesLeft > 0),
    );
    if (!match) {
      this.event('pin_rejected');
      return undefined;
    }
    if (match.usesLeft !== undefined) match.usesLeft -= 1;
    this.event('pin_accepted', { comp: match.comp, pin: match.pinId });
    this.unlock(match.comp);
    return { pinId: match.pinId, comp: match.comp };
  }

  private unlock(comp: number): void {
    const c = this.comps.find((x) => x.n === comp);
    if (c) c.locked = false;
  }

  /** A key is taken from a compartment (under a PIN, if one opened it). */
  takeKey(comp: number, pinId?: string): number {
    const c = this.comps.find((x) => x.n === comp);
    if (c) {
      c.key = false;
      c.locked = true;
    }
    return this.event('key_removed', { comp, ...(pinId ? { pin: pinId } : {}) });
  }

  /** A key is hung back. */
  returnKey(comp: number, pinId?: string): number {
    const c = this.comps.find((x) => x.n === comp);
    if (c) c.key = true;
    return this.event('key_returned', { comp, ...(pinId ? { pin: pinId } : {}) });
  }

  openDoor(): number {
    this.door = 'open';
    return this.event('door_opened');
  }

  closeDoor(): number {
    this.door = 'closed';
    return this.event('door_closed');
  }

  /** True when the depot holds a PIN by that id. */
  hasPin(pinId: string): boolean {
    return this.pins.has(pinId);
  }

  /** Sends a telegram of a type with the next seq (public for tests that capture traffic). */
  send(name: TelegramTypeName, payload: Record<string, unknown>): Buffer {
    if (this.seq >= 0xffff_ffff) throw new Error('seq exhausted: restart with a new epoch');
    this.seq += 1;
    const datagram = sealTelegram(
      this.key,
      Direction.DEPOT_TO_SERVER,
      { name, depotId: this.depotId, keyId: this.keyId, epoch: this.epoch, seq: this.seq },
      payload,
    );
    this.emit('sent', datagram);
    this.socket?.send(datagram, this.server.port, this.server.host);
    return datagram;
  }

  private receive(msg: Buffer): void {
    const parsed = parseHeader(msg);
    if (!parsed.ok || parsed.header.depotId !== this.depotId) {
      this.received.dropped++;
      return;
    }
    const { header } = parsed;
    // The server answers with the key the depot used; after a rekey the new one.
    const keys = [this.key, this.previousKey].filter((k): k is Buffer => !!k);
    let opened: ReturnType<typeof openTelegram> | undefined;
    for (const key of keys) {
      opened = openTelegram(key, Direction.SERVER_TO_DEPOT, header, msg);
      if (opened.ok) break;
    }
    if (!opened?.ok) {
      this.received.dropped++;
      return;
    }
    const next = accept(this.replay, header.epoch, header.seq);
    if (!next) {
      this.received.dropped++;
      return;
    }
    this.replay = next;
    const { telegram } = opened;
    if (telegram.name === 'ACK') this.onAck(telegram.payload);
    else if (telegram.name === 'COMMAND') this.onCommand(telegram.payload);
  }

  private onAck(ack: AckPayload): void {
    this.received.acks++;
    for (const ev of ack.ev ?? []) this.unacked.delete(ev);
    this.emit('ack', ack);
  }

  private onCommand(command: CommandPayload): void {
    this.received.commands++;
    if (this.dropCommands > 0) {
      this.dropCommands--;
      return;
    }
    this.emit('command', command);
    // Each cmd is executed once; a repeat gets the same RESULT again.
    let result = this.results.get(command.cmd);
    if (!result) {
      result = this.execute(command);
      this.results.set(command.cmd, result);
    }
    this.send('RESULT', { cmd: command.cmd, ok: result.ok, ...(result.err ? { err: result.err } : {}) });
    if (command.op === 'rekey' && this.nextKey) {
      // From the next telegram on, seal with the new key.
      this.previousKey = this.key;
      this.key = this.nextKey.key;
      this.keyId = this.nextKey.keyId;
      this.nextKey = undefined;
      this.emit('memory', this.memory());
    }
  }

  private execute(command: CommandPayload): { ok: boolean; err?: string } {
    switch (command.op) {
      case 'set_pin':
        if (!this.comps.some((c) => c.n === command.comp)) return { ok: false, err: 'no such compartment' };
        this.pins.set(command.pinId, {
          pinId: command.pinId,
          comp: command.comp,
          pin: command.pin,
          ...(command.from !== undefined ? { from: command.from } : {}),
          ...(command.until !== undefined ? { until: command.until } : {}),
          ...(command.uses !== undefined ? { usesLeft: command.uses } : {}),
        });
        return { ok: true };
      case 'revoke_pin':
        this.pins.delete(command.pinId);
        return { ok: true };
      case 'open':
        if (!this.comps.some((c) => c.n === command.comp)) return { ok: false, err: 'no such compartment' };
        this.unlock(command.comp);
        return { ok: true };
      case 'config':
        if (command.hb) {
          this.heartbeatMs = command.hb * 1000;
          this.schedule();
        }
        return { ok: true };
      case 'rekey':
        this.nextKey = { keyId: command.keyId, key: Buffer.from(command.key) };
        return { ok: true };
      default:
        return { ok: false, err: 'unknown op' };
    }
  }
}

/** Splits host:port ([v6]:port). */
export function splitHostPort(text: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m) throw new Error(`not host:port: ${text}`);
  return [m[1] as string, Number(m[2])];
}
