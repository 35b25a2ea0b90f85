/*
 * The live side of depots: one actor per depot, the UDP telegrams routed to them, ACKs and commands,
 * and the persisted replay window. Long because the telegram path is one hot loop kept in one place for
 * issue 19's profiling (its parts that stand alone are in replay-reservation.ts and
 * unwritten-states.ts); issue 21 splits the command queue out once that work has settled.
 */
import {
  MAX_U32,
  commandSchema,
  formatDepotId,
  type CommandPayload,
  type HeartbeatPayload,
  type ReplayState,
  type Telegram,
  type TelegramTypeName,
} from '@kis/protocol/telegram';
import type { DepotAlarmPayload, DepotChangedPayload, DepotLiveView } from '@kis/protocol/realtime';
import { createActor } from 'xstate';
import { ActorRegistry } from '../actors/registry.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { initialLiveState, livenessOnly, type LiveState, type PendingCommand } from './live-state.js';
import { depotMachine, emptyCommit, type DepotActor, type DepotCommit } from './machine.js';
import { Depot, DepotCommand, DepotPin, type CommandDoc, type DepotDoc } from './model.js';
import { ReplayReservation } from './replay-reservation.js';
import { StateLog, storableReplay, storedReplay, type DurableState } from './state-log.js';
import { UnwrittenStates, exactStateCommit, onlyLiveness } from './unwritten-states.js';
import { CommitWriter } from './writer.js';

/** How long an unknown depot id is remembered as unknown: at most one look-up per id per minute. */
export const NEGATIVE_CACHE_MS = 60_000;
/** Unknown ids remembered at most; beyond, the look-up budget below still bounds the database load. */
const NEGATIVE_CACHE_MAX = 100_000;
/** Telegrams that may wait for one look-up of their depot; more are dropped. */
const MAX_WAITING_PER_LOOKUP = 8;
/** Database look-ups for unknown depot ids per second, over all ids: a flood of random ids costs this much. */
const LOOKUPS_PER_SECOND = 50;

/**
 * How long a depot's liveness (last seen, uptime, battery, signal) may stay unwritten: a crash loses
 * about this much of it. Checked every {@link LIVENESS_CHECK_MS}.
 */
const LIVENESS_FLUSH_MS = 10_000;
const LIVENESS_CHECK_MS = 250;
/**
 * The most depots' liveness one check writes (4,000 a second). A fleet's heartbeats come due together
 * (after a restart or a burst, every depot was held in the same second): written at once, 10,000
 * held the event loop for 240 ms at 10,000 heartbeats/s, and ACKs waited as long (--cpu-prof).
 */
const LIVENESS_PER_CHECK = 1_000;

/**
 * How often browsers get a depot's view for heartbeats that changed only its liveness (last seen,
 * uptime, battery, signal): a depot at the default of one a minute, every time. With 10,000 depots
 * at one a second, each watched by one of 1,000 tabs, every heartbeat was sent on: 1.2 million
 * updates in 2 minutes, 0.26 million with this (`bench:load -- --heartbeat 1`).
 */
const LIVENESS_PUBLISH_MS = 5_000;

/** Where a datagram came from and where its answer goes. */
export interface UdpAddress {
  address: string;
  port: number;
}

/** The depot socket as the runtime sees it (the UDP listener): it holds the keys it opens and seals with. */
export interface DepotTransport {
  /** A depot's keys from now on; none: the depot is gone. */
  keys(depotId: string, keys: ReadonlyMap<number, Buffer>): void;
  /** Seals a telegram to a depot under one of its keys, and sends it. */
  send(to: UdpAddress, telegram: OutgoingTelegram, payload: Record<string, unknown>): void;
}

/** The header of a telegram to a depot. */
export interface OutgoingTelegram {
  depotId: string;
  keyId: number;
  name: TelegramTypeName;
  epoch: number;
  seq: number;
}

/** What the realtime layer does with depot news. */
export interface DepotNotifier {
  /** Whether anybody watches the depot now: its news are neither built nor sent otherwise. */
  watched(depotId: string): boolean;
  update(view: DepotLiveView): void;
  alarm(alarm: DepotAlarmPayload): void;
  changed(change: DepotChangedPayload): void;
  /**
   * These users (all, without ids) may have lost the depot: their sockets leave its room unless
   * they may still watch it. Resolves once they have.
   */
  revoked(depotId: string, userIds?: readonly string[]): void | Promise<void>;
}

/** Everything the server keeps in memory for one registered depot: its keys, windows and actor. */
export interface DepotLink {
  depotId: string;
  idBig: bigint;
  /** Unsealed keys by key id; only the current one and a newer one from a rekey in progress. */
  keys: Map<number, Buffer>;
  currentKeyId: number;
  /** The key id the depot last sealed with: the server answers with the same. */
  sendKeyId: number;
  replay: ReplayState;
  sendEpoch: number;
  /** Whether `sendEpoch` is in the database yet; nothing is sent under it before. */
  sendEpochStored: boolean;
  sendSeq: number;
  /** The revision of the depot's state: one up per commit. */
  rev: number;
  /** How far the window may run ahead of what is written (replay-reservation.ts). */
  reservation: ReplayReservation;
  /** The live state of the newest commit, to tell a heartbeat that changes only liveness. */
  lastLive: LiveState;
  /** When browsers were last sent the depot's view (epoch ms; 0: never). */
  publishedAt: number;
  actor: DepotActor;
  meta: DepotMeta;
}

/** What lists show of a depot besides its live state. */
export interface DepotMeta {
  name: string;
  location: string;
  organizationId: string | null;
  compartments: number;
  heartbeatSeconds: number;
  status: 'active' | 'disabled';
}

function keyContext(depotId: string, keyId: number): string {
  return `depot:${depotId}:key:${keyId}`;
}

export function commandContext(depotId: string, cmd: number): string {
  return `depot:${depotId}:cmd:${cmd}`;
}

/** Formats a UDP source as host:port ([v6]:port). */
export function formatAddress(a: UdpAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function parseAddress(text: string): UdpAddress | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  return m ? { address: m[1] as string, port: Number(m[2]) } : undefined;
}

/** Command arguments as stored (sealed JSON): byte strings as base64. */
export function commandToJson(payload: CommandPayload): string {
  return JSON.stringify(payload, (_k, v: unknown) =>
    v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('base64') } : v,
  );
}

function commandFromJson(json: string): CommandPayload {
  const raw = JSON.parse(json, (_k, v: unknown) =>
    v && typeof v === 'object' && '$bytes' in v ? new Uint8Array(Buffer.from(String(v.$bytes), 'base64')) : v,
  ) as unknown;
  return commandSchema.parse(raw);
}

function liveOf(doc: Pick<DepotDoc, 'live' | 'compartments'>): LiveState {
  const stored = doc.live as LiveState | undefined | null;
  return stored && Array.isArray(stored.comps) ? stored : initialLiveState(doc.compartments);
}

function metaOf(doc: DepotDoc): DepotMeta {
  return {
    name: doc.name,
    location: doc.location ?? '',
    organizationId: doc.organizationId ?? null,
    compartments: doc.compartments,
    heartbeatSeconds: doc.heartbeatSeconds,
    status: doc.status as 'active' | 'disabled',
  };
}

/**
 * The live side of the depots module: one {@link DepotLink} and actor per active depot, the path
 * from an authenticated telegram to a durable commit and its answers, and the look-up of depots
 * registered elsewhere (the CLI) with a negative cache.
 */
export class DepotRuntime {
  readonly links = new Map<string, DepotLink>();
  private readonly actors: ActorRegistry<DepotActor>;
  private readonly log = new StateLog();
  private readonly writer = new CommitWriter(this.log);
  private readonly unknown = new Map<string, number>();
  /** Look-ups under way, with how many telegrams wait for each. */
  private readonly lookingUp = new Map<string, { pending: Promise<DepotLink | undefined>; waiting: number }>();
  private lookupTokens = LOOKUPS_PER_SECOND;
  private lookupRefill = Date.now();
  private transport: DepotTransport | undefined;
  private notifier: DepotNotifier | undefined;
  /** Commits answered before they were written (liveness only). */
  private readonly unwritten = new UnwrittenStates();
  private livenessTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      box: SecretBox;
      logger: Logger;
      metrics: Metrics;
      /** How long a command is retried before it is given up (ms). */
      commandTimeoutMs: number;
      now?: () => number;
      /** Told of every commit once it is stored (other modules follow PIN events through it). */
      stored?: (depotId: string, commit: DepotCommit) => void;
    },
  ) {
    this.actors = new ActorRegistry<DepotActor>('depot', options.logger);
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  /** Connects the depot socket, and gives it the keys of every depot loaded. */
  setTransport(transport: DepotTransport | undefined): void {
    this.transport = transport;
    for (const link of this.links.values()) transport?.keys(link.depotId, link.keys);
  }

  setNotifier(notifier: DepotNotifier | undefined): void {
    this.notifier = notifier;
  }

  /** The realtime side, for news that do not come from a depot (manual entries, revoked access). */
  get news(): DepotNotifier | undefined {
    return this.notifier;
  }

  /** Loads every active depot into its link and actor. */
  async start(): Promise<void> {
    const started = Date.now();
    const pending = await DepotCommand.find({ state: { $in: ['queued', 'sent'] } }).lean();
    const byDepot = new Map<string, CommandDoc[]>();
    for (const c of pending) byDepot.set(c.depotId, [...(byDepot.get(c.depotId) ?? []), c as CommandDoc]);
    const returnTimes = await this.returnTimes();
    await this.log.init();
    await this.writer.journal.recover();
    const states = await this.log.loadAll();
    for await (const doc of Depot.find({ status: 'active' }).lean().cursor()) {
      const d = doc as DepotDoc;
      this.attach(
        d,
        byDepot.get(d.depotId) ?? [],
        returnTimes.get(d.depotId) ?? {},
        newer(baseline(d), states.get(d.depotId)),
      );
    }
    this.options.logger.info({ depots: this.links.size, ms: Date.now() - started }, 'depots loaded');
    this.livenessTimer = setInterval(
      () => this.writeLiveness(this.unwritten.due(this.now() - LIVENESS_FLUSH_MS, LIVENESS_PER_CHECK)),
      LIVENESS_CHECK_MS,
    );
    this.livenessTimer.unref();
  }

  /** Writes commits answered before they were written, with the reservation in force. */
  private writeLiveness(commits: DepotCommit[]): Promise<unknown> {
    return Promise.all(
      commits.map((commit) => {
        const link = this.links.get(commit.depotId);
        if (link) commit.reserved = link.reservation.current(commit.replay);
        return this.writer.later(commit).catch((err: unknown) => {
          this.options.logger.warn(
            { err, depotId: commit.depotId },
            'depot liveness not written; the next write has it',
          );
        });
      }),
    );
  }

  private async returnTimes(depotId?: string): Promise<Map<string, Record<string, number>>> {
    const pins = await DepotPin.find(
      { ...(depotId ? { depotId } : {}), state: { $in: ['pending', 'active'] }, returnBy: { $exists: true } },
      { depotId: 1, returnBy: 1 },
    ).lean();
    const map = new Map<string, Record<string, number>>();
    for (const p of pins) {
      if (!p.returnBy) continue;
      const times = map.get(p.depotId) ?? {};
      times[p._id] = p.returnBy.getTime();
      map.set(p.depotId, times);
    }
    return map;
  }

  /** Creates the link and actor of a depot from its document and its newest durable state. */
  private attach(
    doc: DepotDoc,
    commands: CommandDoc[],
    returnTimes: Record<string, number>,
    state: DurableState,
  ): DepotLink {
    this.writer.durable.set(doc.depotId, state);
    const keys = new Map<number, Buffer>();
    for (const k of doc.keys) {
      try {
        keys.set(k.keyId, this.options.box.open(k.sealed, keyContext(doc.depotId, k.keyId)));
      } catch (err) {
        this.options.logger.error({ err, depotId: doc.depotId, keyId: k.keyId }, 'depot key does not open');
      }
    }
    const pendingCommands: PendingCommand[] = [];
    for (const c of commands) {
      try {
        const payload = commandFromJson(
          this.options.box.open(c.sealedArgs, commandContext(doc.depotId, c.cmd)).toString(),
        );
        pendingCommands.push({
          cmd: c.cmd,
          payload,
          state: c.state === 'sent' ? 'sent' : 'queued',
          attempts: c.attempts,
          expiresAt: c.expiresAt.getTime(),
        });
      } catch (err) {
        this.options.logger.error({ err, depotId: doc.depotId, cmd: c.cmd }, 'stored command does not open');
      }
    }
    const link: DepotLink = {
      depotId: doc.depotId,
      idBig: BigInt(`0x${doc.depotId}`),
      keys,
      currentKeyId: doc.currentKeyId,
      sendKeyId: doc.currentKeyId,
      replay: state.replay,
      // This process cannot prove it remembers the last seq an earlier one used: a new epoch, which
      // the first commit stores before anything is sent under it (see commit()).
      sendEpoch: Math.max(doc.sendEpoch, state.sendEpoch) + 1,
      sendEpochStored: false,
      sendSeq: 0,
      rev: state.rev,
      reservation: new ReplayReservation(state.replay),
      lastLive: state.live,
      publishedAt: 0,
      meta: metaOf(doc),
      actor: undefined as unknown as DepotActor,
    };
    this.links.set(doc.depotId, link);
    this.transport?.keys(doc.depotId, keys);
    this.unknown.delete(doc.depotId);
    link.actor = this.actors.add(
      doc.depotId,
      createActor(depotMachine, {
        input: {
          depotId: doc.depotId,
          heartbeatMs: doc.heartbeatSeconds * 1000,
          live: state.live,
          lastEv: state.lastEv,
          replay: state.replay,
          commands: pendingCommands,
          returnTimes,
          now: () => this.now(),
          effects: { commit: (commit) => this.commit(link, commit) },
        },
      }),
    );
    return link;
  }

  /**
   * Loads (or reloads) one depot after it was registered, changed or enabled, and starts its
   * actor. A disabled or deleted depot is detached.
   */
  async reload(depotId: string): Promise<void> {
    if (this.links.has(depotId)) await this.detach(depotId);
    const doc = (await Depot.findOne({ _id: depotId, status: 'active' }).lean()) as DepotDoc | null;
    if (!doc) return;
    const commands = (await DepotCommand.find({ depotId, state: { $in: ['queued', 'sent'] } }).lean()) as CommandDoc[];
    const state = newer(baseline(doc), await this.log.latest(depotId));
    this.attach(doc, commands, (await this.returnTimes(depotId)).get(depotId) ?? {}, state);
  }

  /**
   * Stops a depot's actor and forgets its keys (disabled or deleted). Its newest durable state moves
   * into the depot's document, where lists find it and a later rotation of the log cannot lose it.
   */
  async detach(depotId: string): Promise<void> {
    const link = this.links.get(depotId);
    if (!link) return;
    link.actor.stop();
    this.actors.remove(depotId);
    this.links.delete(depotId);
    this.transport?.keys(depotId, new Map());
    const unwritten = this.unwritten.take(depotId);
    if (unwritten) {
      unwritten.reserved = link.reservation.current(unwritten.replay);
      this.writer.write(unwritten).catch(() => undefined); // its failure leaves the older state
    }
    await this.writer.between(async () => {
      const state = this.writer.durable.get(depotId);
      if (!state) return;
      await Depot.updateOne(
        { _id: depotId },
        {
          $set: {
            live: state.live,
            lastEv: state.lastEv,
            replay: storableReplay(state),
            stateRev: state.rev,
          },
          $max: { sendEpoch: state.sendEpoch },
        },
      );
      this.writer.durable.delete(depotId);
    });
  }

  /**
   * The link of a depot id from a telegram: at once when it is loaded; after one database look-up
   * when it may have been registered by another process; undefined when unknown (remembered for a
   * minute, so a flood of one unknown id costs one look-up a minute).
   */
  resolve(depotId: string): DepotLink | Promise<DepotLink | undefined> | undefined {
    const link = this.links.get(depotId);
    if (link) return link;
    const now = this.now();
    const until = this.unknown.get(depotId);
    if (until !== undefined && until > now) return undefined;
    const underway = this.lookingUp.get(depotId);
    if (underway) {
      // A depot's HELLO and first HEARTBEAT come together: a few telegrams wait for the one
      // look-up; a flood of them is dropped rather than held in memory.
      if (underway.waiting >= MAX_WAITING_PER_LOOKUP) return undefined;
      underway.waiting += 1;
      return underway.pending;
    }
    if (!this.takeLookupToken(now)) return undefined;
    const pending = this.reload(depotId)
      .then(() => {
        const found = this.links.get(depotId);
        this.options.metrics.depotLookups.inc({ found: found ? 'yes' : 'no' });
        this.options.metrics.depotsLoaded.set(this.links.size);
        if (!found) this.rememberUnknown(depotId, now);
        return found;
      })
      .catch((err: unknown) => {
        this.options.logger.error({ err }, 'depot look-up failed');
        return undefined;
      })
      .finally(() => this.lookingUp.delete(depotId));
    this.lookingUp.set(depotId, { pending, waiting: 1 });
    return pending;
  }

  private takeLookupToken(now: number): boolean {
    const refill = ((now - this.lookupRefill) / 1000) * LOOKUPS_PER_SECOND;
    if (refill >= 1) {
      this.lookupTokens = Math.min(LOOKUPS_PER_SECOND, this.lookupTokens + Math.floor(refill));
      this.lookupRefill = now;
    }
    if (this.lookupTokens < 1) return false;
    this.lookupTokens--;
    return true;
  }

  private rememberUnknown(depotId: string, now: number): void {
    if (this.unknown.size >= NEGATIVE_CACHE_MAX) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.unknown.keys().next().value;
      if (oldest !== undefined) this.unknown.delete(oldest);
    }
    this.unknown.set(depotId, now + NEGATIVE_CACHE_MS);
  }

  /**
   * Hands an authenticated, replay-checked telegram to the depot's actor. A telegram sealed with a
   * newer key id completes a rekey: the older keys are dropped.
   */
  deliver(
    link: DepotLink,
    telegram: Telegram,
    header: { keyId: number; seq: number },
    from: UdpAddress,
    receivedAt: number,
  ): void {
    link.sendKeyId = header.keyId;
    if (header.keyId > link.currentKeyId) this.promoteKey(link, header.keyId);
    if (telegram.name === 'HEARTBEAT' && this.tookLiveness(link, telegram.payload, header.seq, from, receivedAt))
      return;
    link.actor.send({
      type: 'TELEGRAM',
      telegram,
      seq: header.seq,
      address: formatAddress(from),
      receivedAt,
      replay: link.replay,
    });
  }

  /**
   * Most heartbeats change nothing but liveness: the actor takes the new state as it is (a
   * `LIVENESS` event costs it half of a `TELEGRAM`), and the commit is made here. Only for an
   * online depot with no command waiting, whose commands would go out after every telegram.
   */
  private tookLiveness(
    link: DepotLink,
    heartbeat: HeartbeatPayload,
    seq: number,
    from: UdpAddress,
    receivedAt: number,
  ): boolean {
    const snapshot = link.actor.getSnapshot();
    const { context } = snapshot;
    if (context.commands.length > 0 || !snapshot.matches('online')) return false;
    const address = formatAddress(from);
    const live = livenessOnly(context.live, heartbeat, receivedAt, address);
    if (!live) return false;
    link.actor.send({ type: 'LIVENESS', live, replay: link.replay });
    this.commit(link, {
      ...emptyCommit({ depotId: link.depotId, live, lastEv: context.lastEv, replay: link.replay }),
      ack: { seq, ev: [], address },
    });
    return true;
  }

  private promoteKey(link: DepotLink, keyId: number): void {
    link.currentKeyId = keyId;
    for (const id of [...link.keys.keys()]) if (id < keyId) link.keys.delete(id);
    this.transport?.keys(link.depotId, link.keys);
    Depot.updateOne(
      { depotId: link.depotId },
      { $set: { currentKeyId: keyId }, $pull: { keys: { keyId: { $lt: keyId } } } },
    )
      .exec()
      .then(
        () => this.options.logger.info({ depotId: link.depotId, keyId }, 'depot uses its new key'),
        (err: unknown) => this.options.logger.error({ err, depotId: link.depotId }, 'key promotion not stored'),
      );
  }

  /**
   * Makes a commit durable, then answers the depot (ACK, commands) and tells the browsers. A
   * heartbeat that changes only the depot's liveness, within the depot's durable replay
   * reservation, is answered at once and written within {@link LIVENESS_FLUSH_MS}.
   */
  private commit(link: DepotLink, commit: DepotCommit): void {
    const started = this.now();
    const storesEpoch = !link.sendEpochStored;
    commit.sendEpoch = link.sendEpoch;
    link.rev += 1;
    commit.rev = link.rev;
    const before = link.lastLive;
    link.lastLive = commit.live;
    if (!storesEpoch && onlyLiveness(commit, before) && link.reservation.covers(commit.replay)) {
      const renewal = link.reservation.renewal(commit.replay, started);
      if (renewal === undefined) this.unwritten.hold(commit, started);
      else this.renewReservation(link, commit, renewal);
      this.answer(link, commit, started, true).catch((err: unknown) =>
        this.options.logger.error({ err, depotId: link.depotId }, 'depot answer failed'),
      );
      return;
    }
    // This state is newer than any unwritten one and is written now.
    this.unwritten.drop(link.depotId);
    commit.reserved = link.reservation.forWrite(commit.replay, started);
    this.writer
      .write(commit)
      .then(
        () => {
          if (storesEpoch) link.sendEpochStored = true;
          link.reservation.confirm(commit.replay, commit.reserved ?? 0);
          return this.answer(link, commit, started);
        },
        (err: unknown) => {
          // No ACK: the depot repeats what it sent as new telegrams (new seq), so nothing is lost.
          this.options.logger.error({ err, depotId: link.depotId }, 'depot commit failed; not acknowledged');
        },
      )
      .catch((err: unknown) => this.options.logger.error({ err, depotId: link.depotId }, 'depot answer failed'));
  }

  /**
   * Writes an answered liveness commit with the depot's next reservation, in the background: the
   * durable one covers the depot's telegrams meanwhile (replay-reservation.ts).
   */
  private renewReservation(link: DepotLink, commit: DepotCommit, reserved: number): void {
    this.unwritten.drop(link.depotId);
    commit.reserved = reserved;
    this.writer.later(commit).then(
      () => link.reservation.confirm(commit.replay, reserved),
      (err: unknown) =>
        this.options.logger.warn(
          { err, depotId: link.depotId },
          'depot reservation not renewed; its next write has it',
        ),
    );
  }

  /** After the write: the ACK, then the waiting commands, to the source address; then the browsers. */
  private async answer(link: DepotLink, commit: DepotCommit, started: number, livenessOnly = false): Promise<void> {
    if (commit.ack || commit.send.length) {
      const to = parseAddress(commit.ack?.address ?? commit.live.address ?? '');
      if (to) {
        if (link.sendSeq >= MAX_U32 - 1 - commit.send.length) await this.nextSendEpoch(link);
        if (commit.ack) {
          const ev = commit.ack.ev;
          this.send(link, 'ACK', { ack: commit.ack.seq, ...(ev.length ? { ev } : {}), t: this.now() }, to);
          this.options.metrics.udpAckLatency.observe((this.now() - started) / 1000);
        }
        for (const c of commit.send) this.send(link, 'COMMAND', c.payload as Record<string, unknown>, to);
      }
    }
    this.options.stored?.(link.depotId, commit);
    this.publish(link, commit, livenessOnly);
  }

  private async nextSendEpoch(link: DepotLink): Promise<void> {
    const doc = await Depot.findOneAndUpdate(
      { depotId: link.depotId },
      { $inc: { sendEpoch: 1 } },
      { new: true },
    ).lean();
    if (doc) {
      link.sendEpoch = doc.sendEpoch;
      link.sendSeq = 0;
    }
  }

  private send(link: DepotLink, name: TelegramTypeName, payload: Record<string, unknown>, to: UdpAddress): void {
    const keyId = link.keys.has(link.sendKeyId) ? link.sendKeyId : link.currentKeyId;
    if (!link.keys.has(keyId) || !this.transport) return;
    link.sendSeq += 1;
    this.transport.send(to, { depotId: link.depotId, keyId, name, epoch: link.sendEpoch, seq: link.sendSeq }, payload);
  }

  /**
   * Sends the depot's view to the browsers watching it, if any. A heartbeat that changed only its
   * liveness is sent at most every {@link LIVENESS_PUBLISH_MS}; anything else at once.
   */
  private publish(link: DepotLink, commit: DepotCommit, livenessOnly: boolean): void {
    // Most depots are watched by nobody most of the time: their views are not even built.
    if (!this.notifier?.watched(link.depotId)) return;
    const now = this.now();
    if (livenessOnly && now - link.publishedAt < LIVENESS_PUBLISH_MS) return;
    link.publishedAt = now;
    const view = this.view(link.depotId);
    if (view) this.notifier.update(view);
    for (const alarm of commit.raised) {
      this.notifier.alarm({
        depotId: link.depotId,
        name: link.meta.name,
        kind: alarm.kind,
        ...(alarm.comp !== undefined ? { comp: alarm.comp } : {}),
        at: new Date(alarm.since).toISOString(),
      });
    }
    if (commit.history.length || commit.commandUpdates.length) {
      this.notifier.changed({
        depotId: link.depotId,
        history: commit.history.length > 0,
        commands: commit.commandUpdates.length > 0,
      });
    }
  }

  /** The live view of a loaded depot. */
  view(depotId: string): DepotLiveView | undefined {
    const link = this.links.get(depotId);
    if (!link) return undefined;
    const { live, commands } = link.actor.getSnapshot().context;
    return liveView(depotId, link.meta, live, commands.length);
  }

  /** Updates what lists show (name, location) without reloading the actor. */
  setMeta(depotId: string, meta: Partial<DepotMeta>): void {
    const link = this.links.get(depotId);
    if (link) link.meta = { ...link.meta, ...meta };
  }

  /** Adds a freshly made key (rekey): accepted from now on, alongside the current one. */
  addKey(depotId: string, keyId: number, key: Buffer): void {
    const link = this.links.get(depotId);
    if (!link) return;
    link.keys.set(keyId, key);
    this.transport?.keys(depotId, link.keys);
  }

  /** Sends an event to a depot's actor; false when the depot is not loaded. */
  tell(depotId: string, event: Parameters<DepotActor['send']>[0]): boolean {
    const link = this.links.get(depotId);
    if (!link) return false;
    link.actor.send(event);
    return true;
  }

  get size(): number {
    return this.links.size;
  }

  /** Commits waiting to be written (for /metrics and the benchmark). */
  get backlog(): number {
    return this.writer.backlog;
  }

  /** History entries durable in the journal, not yet in `depot_history` (for /metrics and the benchmark). */
  get historyBacklog(): number {
    return this.writer.journal.backlog;
  }

  /** Moves a depot's newest history entries into `depot_history`: call before reading it. */
  historyStored(depotId: string): Promise<void> {
    return this.writer.journal.storeDepot(depotId);
  }

  /** Moves every new history entry into `depot_history` (before deleting a depot's history). */
  allHistoryStored(): Promise<void> {
    return this.writer.journal.storeAll();
  }

  /**
   * Stops every actor, then writes every depot's newest state with its window exact (no
   * reservation ahead of it), so that a restart skips none of the depots' telegrams. Call after the
   * UDP socket is closed.
   */
  async stop(): Promise<void> {
    clearInterval(this.livenessTimer);
    this.actors.stopAll();
    await this.writeLiveness(this.unwritten.due(Number.POSITIVE_INFINITY));
    await this.writer.settled();
    for (const link of this.links.values()) {
      const state = this.writer.durable.get(link.depotId);
      if (!state || state.reserved <= state.replay.highest) continue;
      link.rev += 1;
      // A failure leaves the reservation in the log: safe, only a few telegrams skipped.
      this.writer.write(exactStateCommit(link.depotId, state, link.rev)).catch(() => undefined);
    }
    await this.writer.settled();
    // What the journal still holds waits in its pages for the next start.
    this.writer.journal.stop();
    this.links.clear();
  }

  /** Entries in the state log since its last rotation (tests and the benchmark). */
  get stateLogEntries(): number {
    return this.log.appended;
  }
}

/** The live view from the state kept for a depot; also used for depots not loaded (disabled). */
export function liveView(depotId: string, meta: DepotMeta, live: LiveState, pendingCommands: number): DepotLiveView {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    depotId,
    name: meta.name,
    location: meta.location,
    organizationId: meta.organizationId,
    status: meta.status,
    heartbeatSeconds: meta.heartbeatSeconds,
    online: live.online && meta.status === 'active',
    lastSeen: live.lastSeen === null ? null : iso(live.lastSeen),
    address: live.address,
    fw: live.fw,
    door: live.door,
    power: live.power,
    batt: live.batt,
    rssi: live.rssi,
    temp: live.temp,
    comps: live.comps,
    alarms: live.alarms.map((a) => ({
      kind: a.kind,
      since: iso(a.since),
      ...(a.comp !== undefined ? { comp: a.comp } : {}),
      ...(a.pinId !== undefined ? { pinId: a.pinId } : {}),
    })),
    loans: live.loans.map((l) => ({ comp: l.comp, pinId: l.pinId, takenAt: iso(l.takenAt), dueAt: iso(l.dueAt) })),
    pendingCommands,
  };
}

/** The state a depot document holds (as of its `stateRev`). */
function baseline(doc: DepotDoc): DurableState {
  return {
    rev: doc.stateRev ?? 0,
    live: liveOf(doc),
    lastEv: doc.lastEv ?? 0,
    ...storedReplay(doc.replay ?? {}),
    sendEpoch: doc.sendEpoch,
  };
}

/** The newer of two states by revision. */
function newer(a: DurableState, b: DurableState | undefined): DurableState {
  return b && b.rev > a.rev ? b : a;
}

/** The live state of a depot document (for depots whose actor is not loaded). */
export function storedLive(doc: DepotDoc): { meta: DepotMeta; live: LiveState } {
  return { meta: metaOf(doc), live: liveOf(doc) };
}

export { formatDepotId };
