/*
 * Sessions of every identity: creation, the per-request check, the session actors' registry and the
 * live-socket hooks. Long because these share one in-memory cache of live sessions; issue 21 moves the
 * socket hooks and the cookie parsing out beside it.
 */
import { createActor, type ActorRefFrom } from 'xstate';
import { ActorRegistry } from '../actors/registry.js';
import * as audit from '../audit/service.js';
import { createHmac } from 'node:crypto';
import { hashToken, randomToken, sameHash } from '../crypto/tokens.js';
import { Unauthorized } from '../errors.js';
import type { Logger } from '../logger.js';
import { EndedSessions } from './ended-sessions.js';
import { inAllowedRanges, ipMatches, type IpPolicy } from './ip.js';
import { idleExpiresAt, sessionMachine } from './session-machine.js';
import { Session, type SessionEndReason } from './session-model.js';
import { User, type AccountType, type Role, type UserLanguage, type UserStatus } from './user-model.js';

export type { SessionEndReason };

/** What a request learns about its caller from the session. */
export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  status: UserStatus;
  language: UserLanguage;
  /** CIDR ranges the user may work from; empty: anywhere. */
  allowedIpRanges: string[];
  organizationId?: string | undefined;
  accountType?: AccountType | undefined;
  rights: string[];
}

/** A live, verified session as the transports see it. */
export interface ActiveSession {
  /** The session's database id (not the cookie value). */
  id: string;
  user: SessionUser;
  ip: string;
  /** Epoch ms of the idle and absolute ends. */
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

/** Tells browsers about their session; the realtime layer provides it. */
export interface SessionNotifier {
  warning(sessionId: string, expiresAt: number): void;
  extended(sessionId: string, expiresAt: number): void;
  ended(sessionId: string, reason: SessionEndReason): void;
  /**
   * A user's rights, status, allowed addresses or grants changed: their live connections look
   * again at what they may receive, and resolve once they have.
   */
  accessChanged(userId: string): Promise<void>;
}

/** Session settings from the configuration. */
export interface SessionSettings {
  idleMs: number;
  warnMs: number;
  absoluteMs: number;
  ipPolicy: IpPolicy;
}

type SessionActor = ActorRefFrom<typeof sessionMachine>;

interface Entry {
  actor: SessionActor;
  idHash: string;
  csrfHash: string;
  ip: string;
  user: SessionUser;
  lastPersistedAt: number;
}

/** Activity is written to the database at most this often; a restart may forget a few seconds of idleness. */
const PERSIST_EVERY_MS = 5000;

let settings: SessionSettings | undefined;
let csrfKey: Buffer | undefined;
let log: Logger | undefined;
let registry: ActorRegistry<SessionActor> | undefined;
let notifier: SessionNotifier = {
  warning: () => undefined,
  extended: () => undefined,
  ended: () => undefined,
  accessChanged: () => Promise.resolve(),
};
const entries = new Map<string, Entry>();
const byIdHash = new Map<string, string>();
/** Ended here, not yet safely ended in the database: a lookup must not revive them. */
const endedSessions = new EndedSessions();

function cfg(): SessionSettings {
  if (!settings) throw new Error('sessions not initialised');
  return settings;
}

/** Sets the session settings and creates the indexes; call once at start-up. */
export async function init(options: SessionSettings & { logger: Logger; csrfKey: Buffer }): Promise<void> {
  csrfKey = options.csrfKey;
  settings = {
    idleMs: options.idleMs,
    warnMs: options.warnMs,
    absoluteMs: options.absoluteMs,
    ipPolicy: options.ipPolicy,
  };
  log = options.logger.child({ component: 'sessions' });
  registry = new ActorRegistry<SessionActor>('session', log);
  await Session.createIndexes();
}

/** Connects the browser notifications (realtime layer). */
export function setNotifier(next: SessionNotifier): void {
  notifier = next;
}

/** Stops all session actors (shutdown); their state is in the database. */
export function shutdown(): void {
  registry?.stopAll();
  entries.clear();
  byIdHash.clear();
}

function toSessionUser(doc: {
  _id: unknown;
  email: string;
  name?: string | null;
  role: string;
  status: string;
  language: string;
  allowedIpRanges?: string[] | null;
  organizationId?: string | null;
  accountType?: string | null;
  rights?: string[] | null;
}): SessionUser {
  return {
    id: String(doc._id),
    email: doc.email,
    name: doc.name ?? '',
    role: doc.role as Role,
    status: doc.status as UserStatus,
    language: doc.language as UserLanguage,
    allowedIpRanges: doc.allowedIpRanges ?? [],
    organizationId: doc.organizationId ?? undefined,
    accountType: (doc.accountType as AccountType | null | undefined) ?? undefined,
    rights: doc.rights ?? [],
  };
}

function startActor(
  sessionId: string,
  userId: string,
  lastActivityAt: number,
  absoluteExpiresAt: number,
): SessionActor {
  const { idleMs, warnMs } = cfg();
  const machine = sessionMachine.provide({
    actions: {
      persistActivity: ({ context }) => {
        const entry = entries.get(sessionId);
        if (!entry || context.lastActivityAt - entry.lastPersistedAt < PERSIST_EVERY_MS) return;
        entry.lastPersistedAt = context.lastActivityAt;
        Session.updateOne({ _id: sessionId }, { $set: { lastSeenAt: new Date(context.lastActivityAt) } }).catch(
          (err: unknown) => log?.error({ err }, 'could not persist session activity'),
        );
      },
      warn: ({ context }) => notifier.warning(sessionId, idleExpiresAt(context)),
      extended: ({ context }) => notifier.extended(sessionId, idleExpiresAt(context)),
      ended: ({ context }) => {
        const reason = context.endReason ?? 'revoked';
        const entry = entries.get(sessionId);
        forget(sessionId);
        endedSessions.ended(sessionId);
        Session.updateOne(
          { _id: sessionId, endedAt: { $exists: false } },
          { $set: { endedAt: new Date(), endReason: reason } },
        )
          .then(() => {
            endedSessions.endWritten(sessionId);
            if (reason === 'timeout' || reason === 'absolute') {
              return audit.record({
                action: 'session.expired',
                outcome: 'success',
                actorId: context.userId,
                actorEmail: entry?.user.email,
                details: { reason },
              });
            }
            return undefined;
          })
          .catch((err: unknown) => log?.error({ err }, 'could not record the end of a session'));
        notifier.ended(sessionId, reason);
      },
    },
  });
  const actor = createActor(machine, {
    input: { sessionId, userId, idleMs, warnMs, lastActivityAt, absoluteExpiresAt, now: Date.now },
  });
  if (!registry) throw new Error('sessions not initialised');
  return registry.add(sessionId, actor);
}

function forget(sessionId: string): void {
  const entry = entries.get(sessionId);
  if (entry) byIdHash.delete(entry.idHash);
  entries.delete(sessionId);
  registry?.remove(sessionId);
}

/**
 * The CSRF token of a session, derived from its cookie with a server key: the page can ask for it
 * again after a reload (GET /api/auth/session) without the server storing it, and another site can
 * neither read the cookie nor compute the token.
 */
export function csrfTokenFor(cookie: string): string {
  if (!csrfKey) throw new Error('sessions not initialised');
  return createHmac('sha256', csrfKey).update(cookie).digest('base64url');
}

/** A new session's secrets: the cookie value and the CSRF token, each shown to the browser once. */
export interface CreatedSession {
  cookie: string;
  csrfToken: string;
  session: ActiveSession;
}

/** Starts a session for a user who just proved who they are. */
export async function create(userId: string, ip: string, userAgent: string): Promise<CreatedSession> {
  const user = await User.findById(userId).lean();
  if (!user) throw new Unauthorized('session_invalid');
  const cookie = randomToken();
  const csrfToken = csrfTokenFor(cookie);
  const now = Date.now();
  const absoluteExpiresAt = now + cfg().absoluteMs;
  const doc = await Session.create({
    idHash: hashToken(cookie),
    csrfHash: hashToken(csrfToken),
    userId,
    ip,
    userAgent: userAgent.slice(0, 300),
    createdAt: new Date(now),
    lastSeenAt: new Date(now),
    absoluteExpiresAt: new Date(absoluteExpiresAt),
  });
  const sessionId = String(doc._id);
  const entry: Entry = {
    idHash: doc.idHash,
    csrfHash: doc.csrfHash,
    ip,
    user: toSessionUser(user),
    lastPersistedAt: now,
    actor: undefined as unknown as SessionActor,
  };
  entries.set(sessionId, entry);
  byIdHash.set(doc.idHash, sessionId);
  entry.actor = startActor(sessionId, userId, now, absoluteExpiresAt);
  return { cookie, csrfToken, session: view(sessionId, entry) };
}

function view(sessionId: string, entry: Entry): ActiveSession {
  const context = entry.actor.getSnapshot().context;
  return {
    id: sessionId,
    user: entry.user,
    ip: entry.ip,
    idleExpiresAt: idleExpiresAt(context),
    absoluteExpiresAt: context.absoluteExpiresAt,
  };
}

/** Finds the live entry for a cookie, rehydrating its actor after a restart. */
async function lookup(cookie: string): Promise<[string, Entry] | undefined> {
  const idHash = hashToken(cookie);
  const known = byIdHash.get(idHash);
  if (known) {
    const entry = entries.get(known);
    if (entry && entry.actor.getSnapshot().status === 'active') return [known, entry];
    return undefined;
  }
  const ticket = endedSessions.beginRead();
  try {
    return await rehydrate(idHash);
  } finally {
    endedSessions.endRead(ticket);
  }
}

/** Brings a session back from the database (after a restart), unless it ended meanwhile. */
async function rehydrate(idHash: string): Promise<[string, Entry] | undefined> {
  const doc = await Session.findOne({ idHash, endedAt: { $exists: false } }).lean();
  if (!doc) return undefined;
  const sessionId = String(doc._id);
  const now = Date.now();
  const lastActivityAt = doc.lastSeenAt.getTime();
  const absoluteExpiresAt = doc.absoluteExpiresAt.getTime();
  if (now >= absoluteExpiresAt || now >= lastActivityAt + cfg().idleMs) {
    const reason: SessionEndReason = now >= absoluteExpiresAt ? 'absolute' : 'timeout';
    await Session.updateOne(
      { _id: doc._id, endedAt: { $exists: false } },
      { $set: { endedAt: new Date(now), endReason: reason } },
    );
    return undefined;
  }
  const user = await User.findById(doc.userId).lean();
  if (!user) return undefined;
  // Ended while this read was under way (a logout beside a page's requests): it stays ended.
  if (endedSessions.isEnded(sessionId)) return undefined;
  // Another request may have rehydrated it meanwhile.
  const raced = entries.get(sessionId);
  if (raced) return [sessionId, raced];
  const entry: Entry = {
    idHash,
    csrfHash: doc.csrfHash,
    ip: doc.ip,
    user: toSessionUser(user),
    lastPersistedAt: lastActivityAt,
    actor: undefined as unknown as SessionActor,
  };
  entries.set(sessionId, entry);
  byIdHash.set(idHash, sessionId);
  entry.actor = startActor(sessionId, doc.userId, lastActivityAt, absoluteExpiresAt);
  return [sessionId, entry];
}

/**
 * Checks a request's session: the cookie names a live session, the client address fits the
 * binding, the user is active, and (for state-changing requests) the CSRF token matches. Counts as
 * activity unless `activity` is false. A binding mismatch ends the session: a copied cookie is burnt.
 */
export async function authenticate(options: {
  cookie: string | undefined;
  ip: string;
  csrfToken?: string | undefined;
  requireCsrf: boolean;
  activity?: boolean;
}): Promise<ActiveSession> {
  if (!options.cookie) throw new Unauthorized('session_missing');
  const found = await lookup(options.cookie);
  if (!found) throw new Unauthorized('session_expired');
  const [sessionId, entry] = found;
  if (!ipMatches(entry.ip, options.ip, cfg().ipPolicy)) {
    await endLive(sessionId, entry, 'ip_mismatch');
    await audit.record({
      action: 'session.ip_mismatch',
      outcome: 'denied',
      actorId: entry.user.id,
      actorEmail: entry.user.email,
      ip: options.ip,
      details: { loginIp: entry.ip },
    });
    throw new Unauthorized('session_ip_mismatch');
  }
  if (!inAllowedRanges(options.ip, entry.user.allowedIpRanges)) {
    await endLive(sessionId, entry, 'ip_not_allowed');
    await audit.record({
      action: 'session.ip_not_allowed',
      outcome: 'denied',
      actorId: entry.user.id,
      actorEmail: entry.user.email,
      ip: options.ip,
    });
    throw new Unauthorized('ip_not_allowed');
  }
  if (entry.user.status !== 'active') {
    await endLive(sessionId, entry, 'revoked');
    throw new Unauthorized('session_expired');
  }
  if (options.requireCsrf && !sameHash(entry.csrfHash, hashToken(options.csrfToken ?? ''))) {
    throw new Unauthorized('csrf_invalid');
  }
  if (options.activity !== false) entry.actor.send({ type: 'ACTIVITY' });
  return view(sessionId, entry);
}

/**
 * Ends a live session: the actor tells the browser, and the end is written before this returns,
 * so no request that follows can rehydrate the session from the database.
 */
async function endLive(sessionId: string, entry: Entry, reason: SessionEndReason): Promise<void> {
  entry.actor.send({ type: 'END', reason });
  await Session.updateOne(
    { _id: sessionId, endedAt: { $exists: false } },
    { $set: { endedAt: new Date(), endReason: reason } },
  );
  endedSessions.endWritten(sessionId);
}

/** Ends one session (logout, revocation). */
export async function end(sessionId: string, reason: SessionEndReason): Promise<void> {
  const entry = entries.get(sessionId);
  if (entry) {
    await endLive(sessionId, entry, reason);
  } else {
    endedSessions.ended(sessionId);
    await Session.updateOne(
      { _id: sessionId, endedAt: { $exists: false } },
      { $set: { endedAt: new Date(), endReason: reason } },
    );
    endedSessions.endWritten(sessionId);
    notifier.ended(sessionId, reason);
  }
}

/** Ends every session of a user except one (the caller's own, after a password change). */
export async function endAllForUser(
  userId: string,
  reason: SessionEndReason,
  exceptSessionId?: string,
): Promise<number> {
  const live = await Session.find({ userId, endedAt: { $exists: false } }, { _id: 1 }).lean();
  const ids = live.map((s) => String(s._id)).filter((id) => id !== exceptSessionId);
  await Promise.all(ids.map((id) => end(id, reason)));
  return ids.length;
}

/**
 * Re-reads a user into their live sessions after a change (name, language, role, status, rights,
 * allowed addresses), then has their open connections re-checked at once: a socket that only
 * listens would otherwise keep receiving what the user may no longer see until it next sends.
 */
export async function refreshUser(userId: string): Promise<void> {
  const user = await User.findById(userId).lean();
  for (const [sessionId, entry] of entries) {
    if (entry.user.id !== userId) continue;
    if (!user || user.status !== 'active') await endLive(sessionId, entry, 'revoked');
    else entries.set(sessionId, { ...entry, user: toSessionUser(user) });
  }
  await notifier.accessChanged(userId);
}

/** One of a user's sessions as the account page lists it. */
export interface SessionListItem {
  id: string;
  ip: string;
  userAgent: string;
  createdAt: string;
  lastSeenAt: string;
  current: boolean;
}

/** The user's live sessions, newest activity first. */
export async function listForUser(userId: string, currentSessionId?: string): Promise<SessionListItem[]> {
  const now = Date.now();
  const docs = await Session.find({
    userId,
    endedAt: { $exists: false },
    absoluteExpiresAt: { $gt: new Date(now) },
  }).lean();
  return docs
    .map((d) => {
      const id = String(d._id);
      const live = entries.get(id)?.actor.getSnapshot().context.lastActivityAt;
      const lastSeen = Math.max(live ?? 0, d.lastSeenAt.getTime());
      return {
        id,
        ip: d.ip,
        userAgent: d.userAgent ?? '',
        createdAt: d.createdAt.toISOString(),
        lastSeenAt: new Date(lastSeen).toISOString(),
        current: id === currentSessionId,
        lastSeen,
      };
    })
    .filter((s) => now < s.lastSeen + cfg().idleMs)
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .map(({ lastSeen: _lastSeen, ...item }) => item);
}

/** Whether a session id belongs to a user (before ending it on their request). */
export async function belongsTo(sessionId: string, userId: string): Promise<boolean> {
  if (!/^[0-9a-f]{24}$/.test(sessionId)) return false;
  return (await Session.countDocuments({ _id: sessionId, userId, endedAt: { $exists: false } })) === 1;
}
