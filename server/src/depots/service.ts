/*
 * The depots module's door: registry and keys, grants, commands, PINs, history and exports, and what
 * other modules may know of depots. Long because it is the one door; issue 21 splits it by concept
 * (registry, grants, PINs, history) behind the same exports.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  FLEET_EXPORT_MAX_DAYS,
  type CommandView,
  type DepotRole,
  type DepotView,
  type HistoryEntryView,
  type PinView,
  type ProvisioningFile,
} from '@kis/protocol/api';
import type { DepotLiveView } from '@kis/protocol/realtime';
import { formatDepotId, type CommandPayload } from '@kis/protocol/telegram';
import * as audit from '../audit/service.js';
import type * as reports from '../reports/service.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { Conflict, Forbidden, Invalid, NotFound } from '../errors.js';
import type { Caller } from '../identity/service.js';
import * as identity from '../identity/service.js';
import * as organizations from '../identity/organizations.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { maxRole, roleFromAccount, roleIncludes } from './access.js';
import type { Principal } from '../identity/access.js';
import type { AlarmKind } from './live-state.js';
import {
  Depot,
  DepotCommand,
  DepotGrant,
  DepotHistory,
  DepotPin,
  commandId,
  type DepotDoc,
  type PinDoc,
} from './model.js';
import { LIST_FIELDS, allVisible, depotPage } from './depot-list.js';
import { visibilityOf } from './visibility.js';
import { DepotRuntime, commandContext, commandToJson, liveView, storedLive, type DepotNotifier } from './runtime.js';
import { historyId } from './history-journal.js';
import { historyMonth } from './history-months.js';
import { historyOwner, newestEntries } from './history-read.js';
import { addHistoryMonths } from './history-migration.js';
import { fleetFigures as figuresOf, type FleetFigures } from './fleet-figures.js';
import { runOnce } from '../db/migrations.js';
import {
  FLEET_HISTORY_COLUMNS,
  HISTORY_COLUMNS,
  depotHistoryRows,
  kindLabel,
  fleetHistoryRows,
  type FleetHistoryRow,
  type HistoryRow,
} from './history-export.js';
import type { HistoryFilters } from './history-query.js';
import { isDuplicateKeyError, sameText } from '../db/query.js';

export type { ProvisioningFile };
export type { FleetFigures, FleetHistoryRow, HistoryFilters, HistoryRow };
export type DepotNotifierLike = DepotNotifier;

/** Who registers depots from the command line: an operator without a session. */
export type DepotCaller = Pick<Caller, 'role' | 'userId' | 'email' | 'ip'> & Partial<Caller>;

let box: SecretBox | undefined;
let runtime: DepotRuntime | undefined;
let settings: { commandTimeoutMs: number; server: string } = {
  commandTimeoutMs: 15 * 60_000,
  server: '127.0.0.1:7010',
};

/** Sets the box that seals depot keys (from the master key); call once at start-up. The CLI stops here. */
export async function init(secretBox: SecretBox): Promise<void> {
  box = secretBox;
  await Promise.all([
    Depot.createIndexes(),
    DepotHistory.createIndexes(),
    DepotCommand.createIndexes(),
    DepotPin.createIndexes(),
    DepotGrant.createIndexes(),
  ]);
  await runOnce('2026-12-history-months', () => addHistoryMonths());
}

/**
 * Starts the live side (the server only): loads every active depot into its actor. Returns the
 * runtime, which the UDP listener feeds.
 */
export async function start(options: {
  logger: Logger;
  metrics: Metrics;
  commandTimeoutMs: number;
  /** host:port that provisioning files name. */
  server: string;
}): Promise<DepotRuntime> {
  if (!box) throw new Error('depots not initialised');
  settings = { commandTimeoutMs: options.commandTimeoutMs, server: options.server };
  runtime = new DepotRuntime({
    box,
    logger: options.logger,
    metrics: options.metrics,
    commandTimeoutMs: options.commandTimeoutMs,
    stored: (depotId, commit) =>
      void firePinEvents(depotId, commit.history).catch((err: unknown) =>
        options.logger.warn({ err, depotId }, 'PIN events not passed on; reconciliation catches up'),
      ),
  });
  await runtime.start();
  options.metrics.depotsLoaded.set(runtime.size);
  const started = runtime;
  options.metrics.measureHistoryJournal(() => started.historyBacklog);
  return runtime;
}

/** Changes the host:port new provisioning files name (when the UDP port was picked at start). */
export async function setProvisioningServer(server: string): Promise<void> {
  settings = { ...settings, server };
}

/** Stops every depot actor and writes their newest states (shutdown, after the UDP socket closed). */
export async function stop(): Promise<void> {
  const stopping = runtime;
  runtime = undefined;
  await stopping?.stop();
}

/** Where depot news go (the realtime layer). */
export function setNotifier(notifier: DepotNotifier | undefined): void {
  runtime?.setNotifier(notifier);
}

function sealer(): SecretBox {
  if (!box) throw new Error('depots not initialised');
  return box;
}

function keyContext(depotId: string, keyId: number): string {
  return `depot:${depotId}:key:${keyId}`;
}

function pinContext(depotId: string, pinId: string): string {
  return `depot:${depotId}:pin:${pinId}`;
}

// ─── Access ──────────────────────────────────────────────────────────────────────────────────────

/** The caller as the access rules see it. */
function principalOf(caller: DepotCaller): Principal {
  return {
    userId: caller.userId,
    role: caller.role,
    organizationId: caller.organizationId,
    accountType: caller.accountType,
    rights: caller.rights ?? [],
  };
}

async function roleOn(
  caller: DepotCaller,
  depot: Pick<DepotDoc, 'depotId' | 'organizationId'>,
): Promise<DepotRole | undefined> {
  const fromAccount = roleFromAccount(principalOf(caller), depot.organizationId ?? null);
  if (fromAccount === 'manager') return fromAccount;
  const grant = await DepotGrant.findOne({ depotId: depot.depotId, userId: caller.userId }).lean();
  return maxRole(fromAccount, grant?.role as DepotRole | undefined);
}

/**
 * Loads a depot the caller holds at least `needed` on. An unknown depot and one the caller may not
 * see look the same (NotFound); one the caller sees but may not act on is Forbidden.
 */
async function loadDepot(
  caller: DepotCaller,
  depotId: string,
  needed: DepotRole,
): Promise<{ doc: DepotDoc; role: DepotRole }> {
  const doc = /^[0-9a-f]{16}$/.test(depotId)
    ? ((await Depot.findOne({ _id: depotId }).lean()) as DepotDoc | null)
    : null;
  const role = doc ? await roleOn(caller, doc) : undefined;
  if (!doc || !role) throw new NotFound('depot_not_found');
  if (!roleIncludes(role, needed)) throw new Forbidden('forbidden', `needs ${needed}`);
  return { doc, role };
}

/** The depot ids the caller may see, with the role on each. */
async function visibleDepots(caller: DepotCaller): Promise<Map<string, DepotRole>> {
  const visible = new Map<string, DepotRole>();
  if (caller.role === 'admin') {
    for (const d of await Depot.find({}, { depotId: 1 }).lean()) visible.set(d.depotId, 'manager');
    return visible;
  }
  if (caller.organizationId) {
    const own = roleFromAccount(principalOf(caller), caller.organizationId);
    if (own) {
      for (const d of await Depot.find({ organizationId: caller.organizationId }, { depotId: 1 }).lean())
        visible.set(d.depotId, own);
    }
  }
  for (const g of await DepotGrant.find({ userId: caller.userId }).lean()) {
    const role = maxRole(visible.get(g.depotId), g.role as DepotRole);
    if (role) visible.set(g.depotId, role);
  }
  return visible;
}

function viewOf(doc: DepotDoc, role: DepotRole): DepotView {
  const live = runtime?.view(doc.depotId);
  if (live) return { ...live, role };
  const stored = storedLive(doc);
  return { ...liveView(doc.depotId, stored.meta, stored.live, 0), role };
}

function auditFor(
  caller: DepotCaller,
  action: string,
  target: string,
  details?: Record<string, string | number | boolean | null>,
): Promise<void> {
  return audit.record({
    action,
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target,
    ...(details ? { details } : {}),
  });
}

// ─── Registry ────────────────────────────────────────────────────────────────────────────────────

/**
 * Registers a depot (operators only): a fresh random id and 32-byte key, the key sealed at rest.
 * Returns the provisioning file, the only time the key leaves the server.
 */
export async function registerDepot(
  caller: DepotCaller,
  input: {
    name: string;
    location?: string | undefined;
    organizationId?: string | undefined;
    compartments: number;
    heartbeatSeconds: number;
    server?: string | undefined;
  },
): Promise<{ depot: DepotView; provisioning: ProvisioningFile }> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  if (!Number.isInteger(input.compartments) || input.compartments < 1 || input.compartments > 255)
    throw new Invalid('compartments_invalid');
  if (!Number.isInteger(input.heartbeatSeconds) || input.heartbeatSeconds < 1 || input.heartbeatSeconds > 86_400)
    throw new Invalid('heartbeat_invalid');
  const server = input.server ?? settings.server;
  if (!/^[^\s:]+:\d{1,5}$/.test(server)) throw new Invalid('server_invalid');
  if (!input.name.trim()) throw new Invalid('name_required');
  if (input.organizationId && caller.sessionId !== undefined) {
    await organizations.getOrganization(caller as Caller, input.organizationId);
  }
  const key = randomBytes(32);
  for (let attempt = 0; ; attempt++) {
    // Random ids: nothing to enumerate, and no coordination needed between instances.
    const depotId = formatDepotId(randomBytes(8).readBigUInt64BE());
    try {
      const doc = await Depot.create({
        _id: depotId,
        depotId,
        name: input.name.trim(),
        location: input.location?.trim() ?? '',
        ...(input.organizationId ? { organizationId: input.organizationId } : {}),
        compartments: input.compartments,
        heartbeatSeconds: input.heartbeatSeconds,
        keys: [{ keyId: 1, sealed: sealer().seal(key, keyContext(depotId, 1)), createdAt: new Date() }],
        currentKeyId: 1,
        createdAt: new Date(),
      });
      await auditFor(caller, 'depot.registered', depotId);
      await runtime?.reload(depotId);
      return {
        depot: viewOf(doc.toObject() as DepotDoc, 'manager'),
        provisioning: { depotId, keyId: 1, key: key.toString('base64'), server, heartbeat: input.heartbeatSeconds },
      };
    } catch (err) {
      if ((err as { code?: number }).code !== 11000 || attempt >= 3) throw err;
    }
  }
}

/** The key of a depot for a key id, unsealed; undefined for an unknown depot, key id or a disabled depot. */
export async function depotKey(depotId: string, keyId: number): Promise<Buffer | undefined> {
  const doc = await Depot.findOne({ _id: depotId, status: 'active' }, { keys: 1 }).lean();
  const entry = doc?.keys.find((k) => k.keyId === keyId);
  return entry ? sealer().open(entry.sealed, keyContext(depotId, keyId)) : undefined;
}

/** The depots the caller may see, live, one page (name order). */
export async function listDepots(
  caller: DepotCaller,
  query: { page: number; pageSize: number; q?: string | undefined },
): Promise<{ items: DepotView[]; total: number }> {
  const visibility = await visibilityOf(principalOf(caller));
  if (!visibility.filter) return { items: [], total: 0 };
  if (runtime) return depotPage({ runtime, visibility, storedView: viewOf }, query);
  // Without the live side (a command-line tool): the database alone.
  const parts = [visibility.filter].filter((part) => Object.keys(part).length > 0);
  if (query.q) {
    const re = new RegExp(query.q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    parts.push({ $or: [{ name: re }, { location: re }, { depotId: re }] });
  }
  const filter = parts.length > 1 ? { $and: parts } : (parts[0] ?? {});
  const [docs, total] = await Promise.all([
    Depot.find(filter, LIST_FIELDS)
      .sort({ name: 1, depotId: 1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    Depot.countDocuments(filter),
  ]);
  return { items: (docs as DepotDoc[]).map((d) => viewOf(d, visibility.roleIn(d))), total };
}

/** The fleet in figures (the operator's home; operators only). */
export function fleetFigures(caller: { role: string }): Promise<FleetFigures> {
  return figuresOf(caller, runtime);
}

/** One depot, live. */
export async function getDepot(caller: DepotCaller, depotId: string): Promise<DepotView> {
  const { doc, role } = await loadDepot(caller, depotId, 'viewer');
  return viewOf(doc, role);
}

/** The live views of depots the caller may see (all when `ids` is omitted): what a socket watches. */
export async function watchableDepots(caller: DepotCaller, ids?: readonly string[]): Promise<DepotView[]> {
  if (ids) return namedWatchableDepots(caller, ids);
  if (runtime) {
    const visibility = await visibilityOf(principalOf(caller));
    return visibility.filter ? allVisible({ runtime, visibility, storedView: viewOf }) : [];
  }
  const visible = await visibleDepots(caller);
  if (visible.size === 0) return [];
  const docs = (await Depot.find({ _id: { $in: [...visible.keys()] } }).lean()) as DepotDoc[];
  return docs.map((d) => viewOf(d, visible.get(d.depotId) ?? 'viewer'));
}

/**
 * The depots of a dashboard page, by id. A loaded depot answers from its actor (its organization
 * is fixed at registration, so the actor's copy is as good as the document); others are looked up
 * by `_id` one by one. Working out every visible depot first cost a scan of the collection per
 * watch, and even ten look-ups per watch made FerretDB the bottleneck when 1,000 tabs watched at
 * once: 100 concurrent watches took 5.6 s, 1,000 timed out (scripts/bench/load.ts, 10,000 depots).
 */
async function namedWatchableDepots(caller: DepotCaller, ids: readonly string[]): Promise<DepotView[]> {
  const unique = [...new Set(ids)].filter((id) => /^[0-9a-f]{16}$/.test(id));
  // Live views carry the depot's organization; the role is worked out below.
  const candidates: DepotLiveView[] = [];
  const unloaded: string[] = [];
  for (const id of unique) {
    const live = runtime?.view(id);
    if (live) candidates.push(live);
    else unloaded.push(id);
  }
  for (const doc of await Promise.all(
    unloaded.map(async (id) => (await Depot.findOne({ _id: id }).lean()) as DepotDoc | null),
  )) {
    if (doc) candidates.push(viewOf(doc, 'viewer'));
  }
  const principal = principalOf(caller);
  const fromAccount = candidates.map((c) => roleFromAccount(principal, c.organizationId));
  // Grants matter only where the account's own role is less than manager: read them once.
  const grants = fromAccount.every((r) => r === 'manager')
    ? new Map<string, DepotRole>()
    : new Map((await DepotGrant.find({ userId: caller.userId }).lean()).map((g) => [g.depotId, g.role as DepotRole]));
  const views: DepotView[] = [];
  for (const [i, view] of candidates.entries()) {
    const role = maxRole(fromAccount[i], grants.get(view.depotId));
    if (role) views.push({ ...view, role });
  }
  return views;
}

/** Renames or moves a depot (managers), or changes its heartbeat (a `config` command the depot confirms). */
export async function updateDepot(
  caller: DepotCaller,
  depotId: string,
  input: { name?: string | undefined; location?: string | undefined; heartbeatSeconds?: number | undefined },
): Promise<DepotView> {
  const { doc, role } = await loadDepot(caller, depotId, 'manager');
  const set: Record<string, string> = {};
  if (input.name !== undefined) set.name = input.name.trim();
  if (input.location !== undefined) set.location = input.location.trim();
  if (Object.keys(set).length) {
    await Depot.updateOne({ _id: depotId }, { $set: set });
    runtime?.setMeta(depotId, set);
    await auditFor(caller, 'depot.updated', depotId);
  }
  if (input.heartbeatSeconds !== undefined && input.heartbeatSeconds !== doc.heartbeatSeconds) {
    await queue(caller, doc, { op: 'config', hb: input.heartbeatSeconds });
  }
  return getDepotAs(depotId, role);
}

async function getDepotAs(depotId: string, role: DepotRole): Promise<DepotView> {
  const doc = (await Depot.findOne({ _id: depotId }).lean()) as DepotDoc | null;
  if (!doc) throw new NotFound('depot_not_found');
  return viewOf(doc, role);
}

/** Disables (telegrams dropped as from an unknown depot) or enables a depot (operators). */
export async function setDepotStatus(
  caller: DepotCaller,
  depotId: string,
  status: 'active' | 'disabled',
): Promise<DepotView> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  await loadDepot(caller, depotId, 'manager');
  await Depot.updateOne({ _id: depotId }, { $set: { status } });
  if (status === 'disabled') await runtime?.detach(depotId);
  else await runtime?.reload(depotId);
  await auditFor(caller, status === 'disabled' ? 'depot.disabled' : 'depot.enabled', depotId);
  return getDepotAs(depotId, 'manager');
}

/** Deletes a depot with its history, commands, PINs and grants (operators). The audit log keeps that it happened. */
export async function deleteDepot(caller: DepotCaller, depotId: string): Promise<void> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  await loadDepot(caller, depotId, 'manager');
  await runtime?.detach(depotId);
  await runtime?.news?.revoked(depotId);
  // Every journal page must be gone first: a page moved again after a restart would bring back
  // entries of the deleted depot.
  await runtime?.allHistoryStored();
  await Depot.deleteOne({ _id: depotId });
  await Promise.all([
    DepotHistory.deleteMany({ depotId }),
    DepotCommand.deleteMany({ depotId }),
    DepotPin.deleteMany({ depotId }),
    DepotGrant.deleteMany({ depotId }),
  ]);
  await auditFor(caller, 'depot.deleted', depotId);
}

/**
 * Gives a depot a new key (operators): stored sealed, accepted at once beside the old one, and sent
 * to the depot with `rekey`; the old key is dropped when the depot first seals with the new one.
 */
export async function rekeyDepot(caller: DepotCaller, depotId: string): Promise<CommandView> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const { doc } = await loadDepot(caller, depotId, 'manager');
  if (doc.status !== 'active') throw new Conflict('depot_disabled');
  const keyId = Math.max(...doc.keys.map((k) => k.keyId)) + 1;
  if (keyId > 255) throw new Conflict('key_ids_exhausted');
  const key = randomBytes(32);
  await Depot.updateOne(
    { _id: depotId },
    { $push: { keys: { keyId, sealed: sealer().seal(key, keyContext(depotId, keyId)), createdAt: new Date() } } },
  );
  runtime?.addKey(depotId, keyId, key);
  await auditFor(caller, 'depot.rekeyed', depotId, { keyId });
  return queue(caller, doc, { op: 'rekey', keyId, key: new Uint8Array(key) });
}

// ─── Commands ────────────────────────────────────────────────────────────────────────────────────

type CommandArgs = CommandPayload extends infer C ? (C extends { cmd: number } ? Omit<C, 'cmd'> : never) : never;

/** Queues a command: numbered, stored sealed, handed to the depot's actor which sends and retries it. */
async function queue(caller: DepotCaller, doc: DepotDoc, args: CommandArgs): Promise<CommandView> {
  if (doc.status !== 'active' || !runtime?.links.has(doc.depotId)) throw new Conflict('depot_disabled');
  const counter = await Depot.findOneAndUpdate(
    { depotId: doc.depotId },
    { $inc: { nextCmd: 1 } },
    { new: false },
  ).lean();
  if (!counter) throw new NotFound('depot_not_found');
  const cmd = counter.nextCmd;
  const payload = { cmd, ...args } as CommandPayload;
  const now = Date.now();
  const expiresAt = now + settings.commandTimeoutMs;
  const created = await DepotCommand.create({
    _id: commandId(doc.depotId, cmd),
    depotId: doc.depotId,
    cmd,
    op: payload.op,
    sealedArgs: sealer().seal(Buffer.from(commandToJson(payload)), commandContext(doc.depotId, cmd)),
    ...('comp' in payload ? { comp: payload.comp } : {}),
    ...('pinId' in payload ? { pinId: payload.pinId } : {}),
    state: 'queued',
    attempts: 0,
    createdAt: new Date(now),
    expiresAt: new Date(expiresAt),
    userId: caller.userId,
    userName: caller.email,
  });
  runtime.tell(doc.depotId, { type: 'COMMAND', command: { cmd, payload, state: 'queued', attempts: 0, expiresAt } });
  await auditFor(caller, 'depot.command', doc.depotId, { op: payload.op, cmd });
  return commandView(created.toObject());
}

function commandView(c: {
  _id: unknown;
  cmd: number;
  op: string;
  comp?: number | null;
  pinId?: string | null;
  state: string;
  attempts: number;
  error?: string | null;
  createdAt: Date;
  expiresAt: Date;
  sentAt?: Date | null;
  settledAt?: Date | null;
  userName?: string | null;
}): CommandView {
  return {
    id: String(c._id),
    cmd: c.cmd,
    op: c.op,
    comp: c.comp ?? null,
    pinId: c.pinId ?? null,
    state: c.state as CommandView['state'],
    attempts: c.attempts,
    error: c.error ?? null,
    createdAt: c.createdAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
    sentAt: c.sentAt?.toISOString() ?? null,
    settledAt: c.settledAt?.toISOString() ?? null,
    userName: c.userName ?? null,
  };
}

/** Sends a command users may give directly (operators): open a compartment. */
export async function sendCommand(
  caller: DepotCaller,
  depotId: string,
  input: { op: 'open'; comp: number },
): Promise<CommandView> {
  const { doc } = await loadDepot(caller, depotId, 'operator');
  if (input.comp > doc.compartments) throw new Invalid('compartment_invalid');
  return queue(caller, doc, input);
}

/** A depot's commands and their delivery state, newest first. */
export async function listCommands(
  caller: DepotCaller,
  depotId: string,
  query: { page: number; pageSize: number },
): Promise<{ items: CommandView[]; total: number }> {
  await loadDepot(caller, depotId, 'viewer');
  const [docs, total] = await Promise.all([
    DepotCommand.find({ depotId }, { sealedArgs: 0 })
      .sort({ cmd: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    DepotCommand.countDocuments({ depotId }),
  ]);
  return { items: docs.map((d) => commandView(d)), total };
}

// ─── PINs ────────────────────────────────────────────────────────────────────────────────────────

function pinView(p: PinDoc): PinView {
  return {
    pinId: p._id,
    comp: p.comp,
    label: p.label,
    validFrom: p.validFrom?.toISOString() ?? null,
    validUntil: p.validUntil?.toISOString() ?? null,
    uses: p.uses ?? null,
    usesSeen: p.usesSeen,
    returnBy: p.returnBy?.toISOString() ?? null,
    state: p.state as PinView['state'],
    createdAt: p.createdAt.toISOString(),
  };
}

/**
 * Creates a PIN for a compartment (operators): random digits, sealed at rest, sent to the depot
 * with `set_pin`. The digits are in the answer; later only through {@link revealPin}, audited.
 */
export async function createPin(
  caller: DepotCaller,
  depotId: string,
  input: {
    comp: number;
    label: string;
    digits: number;
    validFrom?: string | undefined;
    validUntil?: string | undefined;
    uses?: number | undefined;
    returnBy?: string | undefined;
    holderEmail?: string | undefined;
  },
): Promise<{ pin: PinView; digits: string }> {
  const { doc } = await loadDepot(caller, depotId, 'operator');
  const holderUserId = input.holderEmail ? await pinHolder(caller, doc, input.holderEmail) : undefined;
  return makePin(caller, doc, { ...input, holderUserId });
}

/**
 * The account a new PIN is for, named by its address. Operators may name anyone. Everybody else
 * may name only someone within their reach: themselves, a member of their own company or of the
 * depot's company, or someone with a grant on the depot. Any other address gets the same answer
 * whether or not it has an account, so the form tells nobody which addresses exist in KIS
 * (issue 20); both paths make the same look-ups.
 */
async function pinHolder(caller: DepotCaller, depot: DepotDoc, email: string): Promise<string> {
  const [holder, grants] = await Promise.all([
    identity.findAccountByEmail(email),
    DepotGrant.find({ depotId: depot.depotId }, { userId: 1 }).lean(),
  ]);
  const reachable =
    holder !== undefined &&
    (caller.role === 'admin' ||
      holder.id === caller.userId ||
      (holder.organizationId !== null &&
        (holder.organizationId === caller.organizationId || holder.organizationId === depot.organizationId)) ||
      grants.some((g) => g.userId === holder.id));
  if (!holder || !reachable) throw new Invalid('holder_unknown');
  return holder.id;
}

/** What a new PIN is: its compartment, holder label, window and uses; `pinId` for an idempotent release. */
interface PinInput {
  comp: number;
  label: string;
  digits: number;
  validFrom?: string | undefined;
  validUntil?: string | undefined;
  uses?: number | undefined;
  returnBy?: string | undefined;
  pinId?: string | undefined;
  holderUserId?: string | undefined;
}

async function makePin(caller: DepotCaller, doc: DepotDoc, input: PinInput): Promise<{ pin: PinView; digits: string }> {
  const depotId = doc.depotId;
  if (input.comp > doc.compartments) throw new Invalid('compartment_invalid');
  const from = input.validFrom ? new Date(input.validFrom) : undefined;
  const until = input.validUntil ? new Date(input.validUntil) : undefined;
  const returnBy = input.returnBy ? new Date(input.returnBy) : undefined;
  if (from && until && from >= until) throw new Invalid('validity_invalid');
  if (until && until.getTime() <= Date.now()) throw new Invalid('validity_invalid');
  const digits = Array.from({ length: input.digits }, () => randomInt(10)).join('');
  const pinId = input.pinId ?? `p-${randomBytes(6).toString('base64url')}`;
  const created = await DepotPin.create({
    _id: pinId,
    depotId,
    comp: input.comp,
    sealedPin: sealer().seal(Buffer.from(digits), pinContext(depotId, pinId)),
    label: input.label.trim(),
    ...(input.holderUserId ? { holderUserId: input.holderUserId } : {}),
    ...(from ? { validFrom: from } : {}),
    ...(until ? { validUntil: until } : {}),
    ...(input.uses ? { uses: input.uses } : {}),
    ...(returnBy ? { returnBy } : {}),
    state: 'pending',
    createdAt: new Date(),
    createdBy: caller.userId,
  });
  if (returnBy) runtime?.tell(depotId, { type: 'PIN.RETURN_BY', pinId, returnBy: returnBy.getTime() });
  await queue(caller, doc, {
    op: 'set_pin',
    comp: input.comp,
    pin: digits,
    pinId,
    ...(from ? { from: from.getTime() } : {}),
    ...(until ? { until: until.getTime() } : {}),
    ...(input.uses ? { uses: input.uses } : {}),
  });
  await auditFor(caller, 'depot.pin_created', depotId, { pinId, comp: input.comp });
  return { pin: pinView(created.toObject() as PinDoc), digits };
}

/** A depot's PINs, newest first (never their digits). */
export async function listPins(caller: DepotCaller, depotId: string): Promise<{ items: PinView[] }> {
  await loadDepot(caller, depotId, 'operator');
  const docs = (await DepotPin.find({ depotId }, { sealedPin: 0 })
    .sort({ createdAt: -1 })
    .limit(500)
    .lean()) as PinDoc[];
  return { items: docs.map(pinView) };
}

/** Shows a PIN's digits again (operators), recorded in the audit log. */
export async function revealPin(caller: DepotCaller, depotId: string, pinId: string): Promise<{ digits: string }> {
  await loadDepot(caller, depotId, 'operator');
  const pin = (await DepotPin.findOne({ _id: pinId, depotId }).lean()) as PinDoc | null;
  if (!pin || pin.state === 'revoked') throw new NotFound('pin_not_found');
  await auditFor(caller, 'depot.pin_revealed', depotId, { pinId });
  return { digits: sealer().open(pin.sealedPin, pinContext(depotId, pinId)).toString() };
}

/** Revokes a PIN (operators): the depot gets `revoke_pin`; the PIN is revoked when it confirms. */
export async function revokePin(caller: DepotCaller, depotId: string, pinId: string): Promise<PinView> {
  const { doc } = await loadDepot(caller, depotId, 'operator');
  const pin = (await DepotPin.findOneAndUpdate(
    { _id: pinId, depotId, state: { $in: ['pending', 'active', 'failed'] } },
    { $set: { state: 'revoking' } },
    { new: true },
  ).lean()) as PinDoc | null;
  if (!pin) throw new NotFound('pin_not_found');
  runtime?.tell(depotId, { type: 'PIN.RETURN_BY', pinId, returnBy: null });
  await queue(caller, doc, { op: 'revoke_pin', pinId });
  await auditFor(caller, 'depot.pin_revoked', depotId, { pinId });
  return pinView(pin);
}

// ─── PINs released by payments ───────────────────────────────────────────────────────────────────

/**
 * Who acts when a payment releases or revokes a PIN: no person, so the audit log names the
 * payments module. The owner's right was checked when the invoice named the compartment
 * ({@link billableCompartment}); the payment is what authorizes the release.
 */
const PAYMENTS: DepotCaller = { role: 'admin', userId: 'system:payments', email: 'payments', ip: '' };

/** A PIN event other modules follow (the payments module: `key_removed` marks an invoice picked up). */
export interface PinEvent {
  depotId: string;
  pinId: string;
  kind: string;
  comp: number | null;
  at: Date;
}
export type PinEventHook = (event: PinEvent) => Promise<void>;
const pinEventHooks: PinEventHook[] = [];

/**
 * Calls `hook` for every stored depot event that names a PIN of that depot, after it is stored.
 * A PIN id is bound to the depot it was made for: an event in which one depot names another's PIN
 * (a broken or hostile depot) stays in its history but reaches no hook.
 */
export function onPinEvent(hook: PinEventHook): void {
  pinEventHooks.push(hook);
}

async function firePinEvents(
  depotId: string,
  history: ReadonlyArray<{ at: number; kind: string; comp?: number; pinId?: string }>,
): Promise<void> {
  const named = [...new Set(history.flatMap((h) => (h.pinId ? [h.pinId] : [])))];
  if (!named.length || !pinEventHooks.length) return;
  const own = new Set((await DepotPin.find({ _id: { $in: named }, depotId }, { _id: 1 }).lean()).map((p) => p._id));
  for (const h of history) {
    if (!h.pinId || !own.has(h.pinId)) continue;
    const event: PinEvent = { depotId, pinId: h.pinId, kind: h.kind, comp: h.comp ?? null, at: new Date(h.at) };
    for (const hook of pinEventHooks) void hook(event).catch(() => undefined);
  }
}

/**
 * Checks that the caller may bill for a compartment (operator on the depot) and names the depot,
 * for an invoice that releases a PIN there on payment.
 */
export async function billableCompartment(
  caller: DepotCaller,
  depotId: string,
  comp: number,
): Promise<{ name: string; location: string; organizationId: string | null }> {
  const { doc } = await loadDepot(caller, depotId, 'operator');
  if (comp > doc.compartments) throw new Invalid('compartment_invalid');
  return { name: doc.name, location: doc.location ?? '', organizationId: doc.organizationId ?? null };
}

/** A depot's name and location, for pages that show where a key waits (no access check: callers hold the link). */
export async function depotLabel(depotId: string): Promise<{ name: string; location: string } | undefined> {
  const doc = await Depot.findOne({ _id: depotId }, { name: 1, location: 1 }).lean();
  return doc ? { name: doc.name, location: doc.location ?? '' } : undefined;
}

/**
 * Releases a one-use PIN for a paid invoice. Idempotent by `pinId`: a second call (a repeated
 * return, the webhook after the return) gets the same digits and sends nothing again.
 */
export async function releasePin(input: {
  depotId: string;
  comp: number;
  pinId: string;
  label: string;
  validFrom: Date;
  validUntil: Date;
}): Promise<{ digits: string; state: string }> {
  const known = (await DepotPin.findOne({ _id: input.pinId }).lean()) as PinDoc | null;
  if (known) {
    const digits = sealer().open(known.sealedPin, pinContext(known.depotId, known._id)).toString();
    await resendIfLost(known, digits);
    return { digits, state: known.state };
  }
  const doc = (await Depot.findOne({ _id: input.depotId }).lean()) as DepotDoc | null;
  if (!doc) throw new NotFound('depot_not_found');
  try {
    const made = await makePin(PAYMENTS, doc, {
      comp: input.comp,
      label: input.label,
      digits: 6,
      validFrom: input.validFrom.toISOString(),
      validUntil: input.validUntil.toISOString(),
      uses: 1,
      pinId: input.pinId,
    });
    return { digits: made.digits, state: made.pin.state };
  } catch (err) {
    // Two confirmations at once: the other made it; answer with its digits.
    if (isDuplicateKeyError(err)) return releasePin(input);
    throw err;
  }
}

/**
 * Sends a released PIN again when its `set_pin` was lost: stored without a command (a crash or a
 * disabled depot between the two), or given up by the depot. Its window must still be open.
 */
async function resendIfLost(pin: PinDoc, digits: string): Promise<void> {
  if (pin.state !== 'pending' && pin.state !== 'failed') return;
  if (pin.validUntil && pin.validUntil.getTime() <= Date.now()) return;
  const live = await DepotCommand.exists({
    depotId: pin.depotId,
    pinId: pin._id,
    op: 'set_pin',
    state: { $in: ['queued', 'sent', 'succeeded'] },
  });
  if (live) return;
  const doc = (await Depot.findOne({ _id: pin.depotId }).lean()) as DepotDoc | null;
  if (!doc || doc.status === 'disabled') return;
  await DepotPin.updateOne({ _id: pin._id, state: 'failed' }, { $set: { state: 'pending' } });
  await queue(PAYMENTS, doc, {
    op: 'set_pin',
    comp: pin.comp,
    pin: digits,
    pinId: pin._id,
    ...(pin.validFrom ? { from: pin.validFrom.getTime() } : {}),
    ...(pin.validUntil ? { until: pin.validUntil.getTime() } : {}),
    ...(pin.uses ? { uses: pin.uses } : {}),
  });
}

/** A released PIN's digits and state, or undefined when it is gone. */
export async function releasedPin(pinId: string): Promise<{ digits: string; state: string } | undefined> {
  const pin = (await DepotPin.findOne({ _id: pinId }).lean()) as PinDoc | null;
  if (!pin) return undefined;
  return { digits: sealer().open(pin.sealedPin, pinContext(pin.depotId, pin._id)).toString(), state: pin.state };
}

/** The states of released PINs by id, in one query and without opening their digits (for lists). */
export async function pinStates(pinIds: readonly string[]): Promise<Map<string, string>> {
  if (!pinIds.length) return new Map();
  const pins = await DepotPin.find({ _id: { $in: [...pinIds] } }, { state: 1 }).lean();
  return new Map(pins.map((p) => [p._id, p.state] as const));
}

/**
 * Revokes a released PIN (a cancelled or refunded invoice). Idempotent, and it repairs a revoke
 * that was lost (the PIN marked `revoking` but no `revoke_pin` on its way): run again, it sends one.
 */
export async function revokeReleasedPin(pinId: string): Promise<void> {
  const pin = (await DepotPin.findOne({ _id: pinId }).lean()) as PinDoc | null;
  if (!pin || pin.state === 'revoked') return;
  if (pin.state === 'revoking') {
    const live = await DepotCommand.exists({
      depotId: pin.depotId,
      pinId,
      op: 'revoke_pin',
      state: { $in: ['queued', 'sent', 'succeeded'] },
    });
    if (live) return;
  } else {
    await DepotPin.updateOne({ _id: pinId, state: pin.state }, { $set: { state: 'revoking' } });
  }
  const doc = (await Depot.findOne({ _id: pin.depotId }).lean()) as DepotDoc | null;
  if (!doc) return;
  await queue(PAYMENTS, doc, { op: 'revoke_pin', pinId });
  await auditFor(PAYMENTS, 'depot.pin_revoked', doc.depotId, { pinId });
}

/** Whether a released PIN still opens something (pending or active). */
export async function pinStillValid(pinId: string): Promise<boolean> {
  const pin = await DepotPin.findOne({ _id: pinId }, { state: 1 }).lean();
  return pin !== null && (pin.state === 'pending' || pin.state === 'active' || pin.state === 'failed');
}

/**
 * When a stored event of this kind named this PIN first, if ever (for catching up after a restart).
 * `since` keeps the look-up on the depot's time index.
 */
export async function firstPinEvent(
  depotId: string,
  pinId: string,
  kind: string,
  since: Date,
): Promise<Date | undefined> {
  await runtime?.historyStored(depotId);
  const h = await DepotHistory.findOne({ depotId, at: { $gte: since }, pinId, kind }, { at: 1 })
    .sort({ at: 1 })
    .lean();
  return h?.at ?? undefined;
}

// ─── Erasure ─────────────────────────────────────────────────────────────────────────────────────

/** What the depots hold about a person, for their data export (PIN digits excepted: they are secrets). */
export async function personalDataForExport(userId: string): Promise<Record<string, unknown>> {
  const [grants, pins, history, commands] = await Promise.all([
    DepotGrant.find({ userId }).lean(),
    DepotPin.find({ holderUserId: userId }, { sealedPin: 0 }).lean(),
    DepotHistory.find({ userId }).sort({ at: -1 }).limit(10_000).lean(),
    DepotCommand.find({ userId }, { sealedArgs: 0 }).sort({ createdAt: -1 }).limit(10_000).lean(),
  ]);
  return {
    grants: grants.map((g) => ({ depotId: g.depotId, role: g.role, since: g.createdAt })),
    pins: (pins as PinDoc[]).map(pinView),
    historyEntries: history.map((h) => ({
      depotId: h.depotId,
      at: h.at,
      kind: h.kind,
      comp: h.comp ?? null,
      info: h.info ?? null,
    })),
    commands: commands.map((c) => ({
      depotId: c.depotId,
      op: c.op,
      comp: c.comp ?? null,
      state: c.state,
      createdAt: c.createdAt,
    })),
  };
}

/** Until when a person holds a PIN that is still valid (with an end), or undefined. */
export async function validPinsUntil(userId: string): Promise<Date | undefined> {
  const pin = await DepotPin.findOne({
    holderUserId: userId,
    state: { $in: ['pending', 'active'] },
    validUntil: { $gt: new Date() },
  })
    .sort({ validUntil: -1 })
    .lean();
  return pin?.validUntil ?? undefined;
}

/**
 * Erases a person from the depots: their grants go, PINs held by them are revoked and renamed,
 * and where the history or a command names them, a pseudonym stands instead. The events stay: a
 * depot's history is the owner's record of what happened to its keys.
 */
export async function erasePerson(person: {
  userId?: string | undefined;
  email: string;
  pseudonym: string;
  /** Also entries that name the address without the account (PIN holders elsewhere); false: the account's own only. */
  byAddress?: boolean;
}): Promise<{ grants: number; pins: number; history: number }> {
  const address = sameText(person.email);
  let grants = 0;
  let pins = 0;
  if (person.userId) {
    grants = (await DepotGrant.deleteMany({ userId: person.userId })).deletedCount;
    for (const pin of await DepotPin.find({ holderUserId: person.userId }, { _id: 1 }).lean()) {
      await revokeReleasedPin(pin._id);
      pins += 1;
    }
    await DepotPin.updateMany(
      { holderUserId: person.userId },
      { $set: { label: person.pseudonym }, $unset: { holderUserId: 1 } },
    );
  }
  const byAddress = person.byAddress ?? true;
  if (!person.userId && !byAddress) return { grants, pins, history: 0 };
  const who = !person.userId
    ? { userName: address }
    : byAddress
      ? { $or: [{ userId: person.userId }, { userName: address }] }
      : { userId: person.userId };
  const history = await DepotHistory.updateMany(who, { $set: { userName: person.pseudonym } });
  await DepotCommand.updateMany(who, { $set: { userName: person.pseudonym } });
  return { grants, pins, history: history.modifiedCount };
}

// ─── History ─────────────────────────────────────────────────────────────────────────────────────

function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime())) throw new Invalid('cursor_invalid');
  return { at: date, id };
}

/** A depot's history, newest first, one page; filtered by time, kind and compartment. */
export async function listHistory(
  caller: DepotCaller,
  depotId: string,
  query: {
    from?: string | undefined;
    to?: string | undefined;
    kind?: string | undefined;
    comp?: number | undefined;
    cursor?: string | undefined;
    pageSize: number;
  },
): Promise<{ items: HistoryEntryView[]; nextCursor: string | null }> {
  const { doc } = await loadDepot(caller, depotId, 'viewer');
  await runtime?.historyStored(depotId);
  const before = query.cursor ? decodeCursor(query.cursor) : undefined;
  const docs = await newestEntries(historyOwner(doc), query, before, query.pageSize + 1);
  const page = docs.slice(0, query.pageSize);
  const pinIds = [...new Set(page.map((d) => d.pinId).filter((p): p is string => !!p))];
  const labels = new Map(
    pinIds.length
      ? // Only this depot's PINs: a depot that names another's PIN id learns nothing of it here.
        (await DepotPin.find({ _id: { $in: pinIds }, depotId }, { label: 1 }).lean()).map((p) => [p._id, p.label])
      : [],
  );
  const last = page.at(-1);
  return {
    items: page.map((d) => ({
      id: d._id,
      at: d.at.toISOString(),
      depotTime: d.depotTime?.toISOString() ?? null,
      source: d.source as HistoryEntryView['source'],
      kind: d.kind,
      ev: d.ev ?? null,
      comp: d.comp ?? null,
      pinId: d.pinId ?? null,
      pinLabel: d.pinId ? (labels.get(d.pinId) ?? null) : null,
      info: d.info ?? null,
      userName: d.userName ?? null,
    })),
    nextCursor: docs.length > query.pageSize && last ? encodeCursor(last.at, last._id) : null,
  };
}

/** Logs something that happened outside the depot (operators): a key handed over in person, a note. */
export async function addManualEntry(
  caller: DepotCaller,
  depotId: string,
  input: { kind: 'handover' | 'note'; comp?: number | undefined; text: string },
): Promise<void> {
  const { doc } = await loadDepot(caller, depotId, 'operator');
  if (input.comp !== undefined && input.comp > doc.compartments) throw new Invalid('compartment_invalid');
  const at = new Date();
  await DepotHistory.create({
    _id: historyId(depotId, undefined),
    depotId,
    depotMonth: historyMonth(depotId, at),
    at,
    source: 'user',
    kind: input.kind,
    ...(input.comp !== undefined ? { comp: input.comp } : {}),
    info: input.text.trim(),
    userId: caller.userId,
    userName: caller.email,
  });
  runtime?.news?.changed({ depotId, history: true, commands: false });
  await auditFor(caller, 'depot.manual_entry', depotId, { kind: input.kind });
}

/** Clears an alarm a person has dealt with (operators); the history says who. */
export async function clearAlarm(
  caller: DepotCaller,
  depotId: string,
  input: { kind: AlarmKind; comp?: number | undefined },
): Promise<DepotView> {
  const { role } = await loadDepot(caller, depotId, 'operator');
  if (
    !runtime?.tell(depotId, {
      type: 'ALARM.CLEAR',
      kind: input.kind,
      ...(input.comp !== undefined ? { comp: input.comp } : {}),
      by: caller.email,
    })
  ) {
    throw new Conflict('depot_disabled');
  }
  await auditFor(caller, 'depot.alarm_cleared', depotId, { kind: input.kind });
  return getDepotAs(depotId, role);
}

// ─── Grants ──────────────────────────────────────────────────────────────────────────────────────

/** Who holds an explicit grant on a depot (managers). */
export async function listGrants(
  caller: DepotCaller,
  depotId: string,
): Promise<{
  items: Array<{ userId: string; email: string | null; name: string | null; role: DepotRole; createdAt: string }>;
}> {
  await loadDepot(caller, depotId, 'manager');
  const grants = await DepotGrant.find({ depotId }).sort({ createdAt: 1 }).lean();
  const users = await identity.describeUsers(grants.map((g) => g.userId));
  return {
    items: grants.map((g) => ({
      userId: g.userId,
      email: users.get(g.userId)?.email ?? null,
      name: users.get(g.userId)?.name ?? null,
      role: g.role as DepotRole,
      createdAt: g.createdAt.toISOString(),
    })),
  };
}

/**
 * Grants a user a role on a depot: operators to anyone, a main account to the sub-accounts of its
 * own company for its company's depots.
 */
export async function setGrant(caller: DepotCaller, depotId: string, userId: string, role: DepotRole): Promise<void> {
  const { doc } = await loadDepot(caller, depotId, 'manager');
  if (caller.role !== 'admin') {
    if (caller.accountType !== 'main' || doc.organizationId !== caller.organizationId) throw new Forbidden('forbidden');
    await identity.loadManagedUser(caller as Caller, userId);
  } else if ((await identity.describeUsers([userId])).size === 0) {
    throw new NotFound('user_not_found');
  }
  await DepotGrant.updateOne(
    { depotId, userId },
    { $set: { role, grantedBy: caller.userId }, $setOnInsert: { createdAt: new Date() } },
    { upsert: true },
  );
  await auditFor(caller, 'depot.grant_set', depotId, { userId, role });
}

/** Takes a grant back. */
export async function removeGrant(caller: DepotCaller, depotId: string, userId: string): Promise<void> {
  const { doc } = await loadDepot(caller, depotId, 'manager');
  if (caller.role !== 'admin' && (caller.accountType !== 'main' || doc.organizationId !== caller.organizationId)) {
    throw new Forbidden('forbidden');
  }
  const removed = await DepotGrant.deleteOne({ depotId, userId });
  if (removed.deletedCount === 0) throw new NotFound('grant_not_found');
  // Live updates stop at once too, unless the account's own rights still show the depot.
  await runtime?.news?.revoked(depotId, [userId]);
  await auditFor(caller, 'depot.grant_removed', depotId, { userId });
}

/** The live view a room sends, for a depot the runtime has loaded. */
export function liveViewOf(depotId: string): DepotLiveView | undefined {
  return runtime?.view(depotId);
}

/**
 * A depot's history for an export, oldest first, with the timeline's filters (viewers and up). The
 * access is checked and the export audited before the first row; rows are read as the download
 * consumes them. No total: counting would read the rows twice, and the first byte would wait for it.
 */
export async function historyForExport(
  caller: DepotCaller,
  depotId: string,
  filters: HistoryFilters,
): Promise<reports.TableExport<HistoryRow>> {
  const { doc } = await loadDepot(caller, depotId, 'viewer');
  await runtime?.historyStored(depotId);
  await audit.record({
    action: 'depot.history_exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.name,
    details: { depotId, kind: filters.kind ?? null, from: filters.from ?? null, to: filters.to ?? null },
  });
  return {
    name: `verlauf-${depotId}`,
    title: { de: `Verlauf: ${doc.name}`, en: `History: ${doc.name}` },
    subject: { label: { de: 'Depot', en: 'Depot' }, value: `${doc.name} (${depotId})` },
    period: {
      from: filters.from ? new Date(filters.from) : undefined,
      to: filters.to ? new Date(filters.to) : undefined,
    },
    filters: [
      ...(filters.kind ? [kindLabel(filters.kind)] : []),
      ...(filters.comp !== undefined ? [{ de: `Fach ${filters.comp}`, en: `compartment ${filters.comp}` }] : []),
    ],
    columns: HISTORY_COLUMNS,
    rows: depotHistoryRows(historyOwner(doc), filters),
  };
}

/**
 * The history of every depot the caller may see (operators: all; a company's main account and
 * sub-accounts with a depot right: the company's; grants add theirs) in a time range, one depot
 * after another by name, each oldest first. Who may see no depot by right or grant is refused; a
 * company without depots gets an empty table. Audited once, before the first row.
 */
export async function fleetHistoryForExport(
  caller: DepotCaller,
  filters: { from: string; to: string; kind?: string | undefined },
): Promise<reports.TableExport<FleetHistoryRow>> {
  const from = new Date(filters.from);
  const to = new Date(filters.to);
  // The route checks this too; a service called otherwise must not export unbounded ranges either.
  if (!(from < to)) throw new Invalid('range_invalid');
  if (to.getTime() - from.getTime() > FLEET_EXPORT_MAX_DAYS * 86_400_000) throw new Invalid('range_too_long');
  const visible = await visibleDepots(caller);
  const byRight =
    caller.role === 'admin' ||
    (caller.organizationId !== undefined && roleFromAccount(principalOf(caller), caller.organizationId) !== undefined);
  if (!byRight && visible.size === 0) throw new Forbidden('forbidden', 'no depot to export');
  const depots = (
    await Depot.find(caller.role === 'admin' ? {} : { _id: { $in: [...visible.keys()] } }, {
      depotId: 1,
      name: 1,
      createdAt: 1,
      historyFrom: 1,
    })
      .sort({ name: 1, depotId: 1 })
      .lean()
  ).map((d) => ({ ...historyOwner(d), name: d.name }));
  await runtime?.allHistoryStored();
  await audit.record({
    action: 'depot.fleet_history_exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: `${depots.length} depots`,
    details: { depots: depots.length, kind: filters.kind ?? null, from: filters.from, to: filters.to },
  });
  return {
    name: 'verlauf-alle-depots',
    title: {
      de: 'Verlauf aller Depots (nach Depot, dann Zeit)',
      en: 'History of all depots (by depot, then time)',
    },
    subject: { label: { de: 'Depots', en: 'Depots' }, value: String(depots.length) },
    period: { from, to },
    filters: filters.kind ? [kindLabel(filters.kind)] : [],
    columns: FLEET_HISTORY_COLUMNS,
    rows: fleetHistoryRows(depots, filters),
  };
}
