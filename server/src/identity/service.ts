/*
 * The identity module's door: registration and verification, passwords, login, the own account, the
 * operators' user administration and what other modules may know of an account. Long because it is the
 * one door other modules import; issue 21 splits it by concept (registration, login, account,
 * administration) behind the same exports.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import * as audit from '../audit/service.js';
import { deriveKey } from '../crypto/tokens.js';
import { UserSearchKey } from './user-search-keys.js';
import { buildSearchKeys, searchUsers } from './user-search.js';
import { Forbidden, Invalid, NotFound, RateLimited, Unauthorized } from '../errors.js';
import type { Logger } from '../logger.js';

import { formatWhen, type MailKind, type MailParams } from '../mail/templates.js';
import { assertCanManage, type Principal } from './access.js';
import { mailToUser } from './mail-to.js';
import * as mail from '../mail/service.js';
import { inAllowedRanges, isCidr, normalizeCidr } from './ip.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import * as sessions from './sessions.js';
import * as throttle from './throttle.js';
import { Organization } from './organization-model.js';
import { User, type AccountType, type Role, type UserDoc, type UserLanguage, type UserStatus } from './user-model.js';
import * as verification from './verification.js';

export type { Role, UserLanguage, UserStatus };
export { accountFigures, type AccountFigures } from './figures.js';

/** Identity settings from the configuration. */
export interface IdentitySettings {
  publicUrl: string;
  bcryptCost: number;
  throttle: throttle.ThrottlePolicy;
  masterKey: Buffer;
  logger: Logger;
}

/** Who is calling, as every service function that needs rights takes it. */
export interface Caller extends Principal {
  email: string;
  ip: string;
  sessionId?: string;
}

/** A user as the API shows them. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
  phone: string;
  language: UserLanguage;
  role: Role;
  status: UserStatus;
  createdAt: string;
  lastLoginAt: string | null;
  allowedIpRanges: string[];
}

let settings: IdentitySettings | undefined;

function cfg(): IdentitySettings {
  if (!settings) throw new Error('identity not initialised');
  return settings;
}

/** The settings the organization service shares (public URL for links). */
export function settingsForOrganizations(): Pick<IdentitySettings, 'publicUrl'> {
  return { publicUrl: cfg().publicUrl };
}

/** Sets the settings and creates indexes; call once at start-up. */
export async function init(options: IdentitySettings): Promise<void> {
  settings = options;
  verification.setCodeKey(deriveKey(options.masterKey, 'verification-codes'));
  await Promise.all([
    User.createIndexes(),
    UserSearchKey.createIndexes(),
    verification.init(),
    throttle.init(),
    audit.init(),
  ]);
  await buildSearchKeys();
}

/** Trims an address and checks its shape; the lower-cased form is the identity. */
export function normalizeEmail(email: string): { email: string; emailLower: string } {
  const trimmed = email.trim();
  return { email: trimmed, emailLower: trimmed.toLowerCase() };
}

export function toPublicUser(doc: UserDoc): PublicUser {
  return {
    id: String(doc._id),
    email: doc.email,
    name: doc.name ?? '',
    phone: doc.phone ?? '',
    language: doc.language as UserLanguage,
    role: doc.role as Role,
    status: doc.status as UserStatus,
    createdAt: doc.createdAt.toISOString(),
    lastLoginAt: doc.lastLoginAt?.toISOString() ?? null,
    allowedIpRanges: doc.allowedIpRanges ?? [],
  };
}

/** Links in mails carry their token in the fragment, which browsers never send to a server or in a Referer. */
function link(path: string, token: string): string {
  return `${cfg().publicUrl}${path}#token=${encodeURIComponent(token)}`;
}

async function activeAdmins(): Promise<UserDoc[]> {
  return (await User.find({ role: 'admin', status: 'active' }).lean()) as UserDoc[];
}

// ─── Registration ────────────────────────────────────────────────────────────────────────────────

/** At most five "you already have an account" mails an hour per address, so nobody floods an inbox. */
const KNOWN_ADDRESS_NOTICES: throttle.ThrottlePolicy = {
  maxFailures: 5,
  lockoutStepMs: 3600_000,
  lockoutMaxMs: 3600_000,
  failureResetMs: 3600_000,
};

/**
 * Starts a registration. The answer is the same whatever the address: an unknown or pending
 * address gets a code and link, a registered one a mail saying so. No password travels by mail.
 */
export async function register(input: { email: string; language: UserLanguage; ip: string }): Promise<void> {
  const { email, emailLower } = normalizeEmail(input.email);
  const existing = await User.findOne({ emailLower }).lean();
  if (existing && existing.status !== 'pending') {
    // The owner hears of it, at most a few times an hour, with a plain link to the reset page: no
    // reset is started for them, so a stranger's registration neither uses up their resets nor
    // cancels a code they are about to type.
    const noticeKey = `register-known:${emailLower}`;
    if (!(await throttle.lockedUntil(noticeKey))) {
      await throttle.recordFailure(noticeKey, KNOWN_ADDRESS_NOTICES);
      await mailToUser(existing, 'register_known', {
        loginLink: `${cfg().publicUrl}/anmelden`,
        resetLink: `${cfg().publicUrl}/passwort-vergessen`,
      });
    }
    await audit.record({
      action: 'register.known_address',
      outcome: 'failure',
      actorEmail: existing.email,
      ip: input.ip,
    });
    return;
  }
  if (!existing) {
    try {
      await User.create({
        email,
        emailLower,
        language: input.language,
        role: 'customer',
        status: 'pending',
        createdAt: new Date(),
        registeredAt: new Date(),
        registeredDay: new Date().toISOString().slice(0, 10),
      });
    } catch (err) {
      // A concurrent registration of the same address: carry on with theirs.
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  const issued = await verification.issue({ purpose: 'register', emailLower, withCode: true, direct: true });
  if (!issued?.code) return;
  await mail.send({
    to: email,
    lang: (existing?.language as UserLanguage | undefined) ?? input.language,
    kind: 'register_code',
    params: {
      code: issued.code,
      link: link('/registrieren/bestaetigen', issued.linkToken),
      minutes: verification.CODE_TTL_MS / 60_000,
    },
  });
  await audit.record({ action: 'register.started', outcome: 'success', actorEmail: email, ip: input.ip });
}

/** What a verified code or link leads to: the token to set a password with, and what to ask first. */
export interface VerifiedSetup {
  setupToken: string;
  email: string;
  purpose: 'register' | 'reset' | 'invite';
  /**
   * Set when a company invited this address as its sub-account before the person registered: the
   * person accepts or refuses the invitation when choosing the password, never joins silently.
   */
  invitation: { organization: string } | null;
}

/** A company's account waiting for its person (created by a main account or an operator). */
function isPendingSubAccount(user: Pick<UserDoc, 'status' | 'accountType' | 'organizationId'>): boolean {
  return user.status === 'pending' && user.accountType === 'sub' && Boolean(user.organizationId);
}

/** Checks a registration or reset code, or a link token; returns the token to set a password with. */
export async function verify(
  input: { purpose: 'register' | 'reset'; email: string; code: string; ip: string } | { token: string; ip: string },
): Promise<VerifiedSetup> {
  let verified: verification.Verified;
  try {
    verified =
      'token' in input
        ? await verification.verifyLink(input.token, ['register', 'reset', 'invite'])
        : await verification.verifyCode(input.purpose, normalizeEmail(input.email).emailLower, input.code);
  } catch (err) {
    await audit.record({
      action: 'verify.failed',
      outcome: 'failure',
      actorEmail: 'email' in input ? input.email : undefined,
      ip: input.ip,
      details: { reason: (err as Invalid).code },
    });
    throw err;
  }
  const user = await User.findOne({ emailLower: verified.emailLower }).lean();
  if (!user) throw new Invalid('code_invalid');
  // Registration codes always went to the address itself; an invitation only since it never
  // follows a redirect. A reset may have been redirected, so it proves nothing.
  const provesAddress = verified.purpose === 'register' || (verified.purpose === 'invite' && verified.provesAddress);
  if (provesAddress && !user.emailVerifiedAt) {
    await User.updateOne({ _id: user._id }, { $set: { emailVerifiedAt: new Date() } });
    if (verified.purpose === 'register') {
      for (const admin of await activeAdmins()) {
        await mail.send({
          to: admin.email,
          lang: admin.language as UserLanguage,
          kind: 'admin_new_user',
          params: { email: user.email, adminLink: `${cfg().publicUrl}/admin/benutzer` },
        });
      }
    }
  }
  await audit.record({
    action: `verify.${verified.purpose}`,
    outcome: 'success',
    actorId: String(user._id),
    actorEmail: user.email,
    ip: input.ip,
  });
  const invited = verified.purpose === 'register' && isPendingSubAccount(user);
  const organization = invited ? await Organization.findById(user.organizationId, { name: 1 }).lean() : null;
  return {
    setupToken: verified.setupToken,
    email: user.email,
    purpose: verified.purpose as 'register' | 'reset' | 'invite',
    invitation: organization ? { organization: organization.name } : null,
  };
}

/**
 * Sets the password after a verified registration or reset. Activates a pending account; ends
 * every session of a reset account (whoever knew the old password is out).
 */
export async function setPassword(input: {
  setupToken: string;
  password: string;
  name?: string | undefined;
  /** The answer to a company's invitation, asked when a registration meets one (see {@link verify}). */
  invitation?: 'accept' | 'refuse' | undefined;
  ip: string;
}): Promise<PublicUser> {
  let user: UserDoc | null = null;
  let refuse = false;
  const used = await verification.consumeSetup(
    input.setupToken,
    ['register', 'reset', 'invite'],
    async (emailLower, purpose) => {
      user = (await User.findOne({ emailLower }).lean()) as UserDoc | null;
      if (!user || user.status === 'disabled') throw new Invalid('setup_invalid');
      if (purpose === 'register' && isPendingSubAccount(user)) {
        if (!input.invitation) throw new Invalid('invitation_answer_missing');
        refuse = input.invitation === 'refuse';
      }
      checkPasswordPolicy(input.password, { email: emailLower });
    },
  );
  const found = user as UserDoc | null;
  if (!found) throw new Invalid('setup_invalid');
  const passwordHash = await hashPassword(input.password, cfg().bcryptCost);
  const set: Record<string, unknown> = { passwordHash, passwordChangedAt: new Date(), status: 'active' };
  if (input.name?.trim()) set.name = input.name.trim();
  const leave = refuse ? { $unset: { organizationId: 1, accountType: 1 } } : {};
  if (refuse) Object.assign(set, { rights: [], redirectToMain: false });
  const updated = (await User.findOneAndUpdate(
    { _id: found._id },
    { $set: set, ...leave },
    { new: true },
  ).lean()) as UserDoc | null;
  if (!updated) throw new Invalid('setup_invalid');
  if (refuse) await invitationRefused(found, input.ip);
  if (used.purpose === 'reset') {
    await sessions.endAllForUser(String(found._id), 'password_changed');
    await throttle.clear(`login:${found.emailLower}`);
  }
  await audit.record({
    action: {
      register: 'register.completed',
      reset: 'password.reset',
      invite: 'invite.accepted',
      admin_setup: 'admin.created',
      email_change: 'email_change.completed',
      // A revocation code never leads to a password; listed so every purpose has a name.
      revocation: 'revocation.confirmed',
    }[used.purpose],
    outcome: 'success',
    actorId: String(found._id),
    actorEmail: found.email,
    ip: input.ip,
  });
  return toPublicUser(updated);
}

/**
 * The person behind an address a company had invited registered on their own and said no: the
 * account is theirs alone now, the invitation link is dead, and the main account is told.
 */
async function invitationRefused(user: UserDoc, ip: string): Promise<void> {
  await verification.cancel('invite', user.emailLower);
  const org = await Organization.findById(user.organizationId, { name: 1, mainUserId: 1 }).lean();
  const main = org ? ((await User.findById(org.mainUserId).lean()) as UserDoc | null) : null;
  if (org && main) await mailToUser(main, 'invite_refused', { email: user.email, organization: org.name });
  await audit.record({
    action: 'invite.refused',
    outcome: 'success',
    actorId: String(user._id),
    actorEmail: user.email,
    ip,
    target: org?.name,
  });
}

/** Sends a reset code and link; the same answer whether or not the address has an account. */
export async function forgotPassword(input: { email: string; ip: string }): Promise<void> {
  const { emailLower } = normalizeEmail(input.email);
  const user = await User.findOne({ emailLower, status: 'active' }).lean();
  await audit.record({
    action: 'password.reset_requested',
    outcome: user ? 'success' : 'failure',
    actorEmail: input.email.trim(),
    ip: input.ip,
  });
  if (!user) return;
  const issued = await verification.issue({ purpose: 'reset', emailLower, withCode: true });
  if (!issued?.code) return;
  await mailToUser(user, 'reset_code', {
    code: issued.code,
    link: link('/passwort-vergessen', issued.linkToken),
    minutes: verification.CODE_TTL_MS / 60_000,
  });
}

// ─── Login ───────────────────────────────────────────────────────────────────────────────────────

/**
 * Logs in with e-mail and password. Failures count against the address and the client address;
 * after too many, both are locked for a while, whether or not the account exists, and the owner
 * of an existing account is told by mail. Each attempt is reserved before the password is compared,
 * so logins sent at once get no more comparisons than logins one after the other.
 */
export async function login(input: {
  email: string;
  password: string;
  ip: string;
  userAgent: string;
  previousCookie?: string | undefined;
}): Promise<sessions.CreatedSession> {
  const { emailLower } = normalizeEmail(input.email);
  const userKey = `login:${emailLower}`;
  const ipKey = `login-ip:${input.ip}`;
  const policy = cfg().throttle;
  const refusedLocked = (): Promise<void> =>
    audit.record({ action: 'login.refused_locked', outcome: 'denied', actorEmail: input.email.trim(), ip: input.ip });
  // The attempt is reserved before the password is compared, so guesses sent at once cannot all
  // pass the lockout check before the first of them has failed.
  try {
    await throttle.reserve([userKey, ipKey], policy);
  } catch (err) {
    if (err instanceof RateLimited) await refusedLocked();
    throw err;
  }
  let user: UserDoc | null;
  let ok: boolean;
  try {
    user = (await User.findOne({ emailLower }).lean()) as UserDoc | null;
    ok = await verifyPassword(
      input.password,
      user?.status === 'pending' ? undefined : user?.passwordHash,
      cfg().bcryptCost,
    );
  } catch (err) {
    await Promise.all([throttle.release(userKey, policy), throttle.release(ipKey, policy)]);
    throw err;
  }
  if (!ok || !user || user.status !== 'active') {
    const [byUser, byIp] = await Promise.all([
      throttle.recordFailure(userKey, policy),
      throttle.recordFailure(ipKey, policy),
    ]);
    await audit.record({
      action: 'login.failed',
      outcome: 'failure',
      actorId: user ? String(user._id) : undefined,
      actorEmail: input.email.trim(),
      ip: input.ip,
      details: { failures: byUser.failures, reason: ok && user?.status === 'disabled' ? 'disabled' : 'credentials' },
    });
    const lockedUntil = byUser.lockedUntil ?? byIp.lockedUntil;
    if (lockedUntil) {
      const minutes = Math.ceil((lockedUntil.getTime() - Date.now()) / 60_000);
      await audit.record({
        action: 'login.locked',
        outcome: 'denied',
        actorId: user ? String(user._id) : undefined,
        actorEmail: input.email.trim(),
        ip: input.ip,
        details: { minutes },
      });
      if (user && byUser.lockedUntil) {
        await mailToUser(user, 'account_locked', { minutes, failures: byUser.failures });
      }
    }
    // Growing delays slow guessing down further without holding a thread.
    await sleep(Math.max(byUser.delayMs, byIp.delayMs));
    if (lockedUntil) throw new RateLimited('locked', Math.ceil((lockedUntil.getTime() - Date.now()) / 1000));
    // A disabled account answers like a wrong password: only the one who knows the password could
    // tell the difference, and the audit keeps the real reason for the operators.
    throw new Unauthorized('invalid_credentials');
  }
  // A lockout that began while the password was compared still holds.
  try {
    await throttle.assertNotLocked([userKey, ipKey]);
  } catch (err) {
    await Promise.all([throttle.release(userKey, policy), throttle.release(ipKey, policy)]);
    if (err instanceof RateLimited) await refusedLocked();
    throw err;
  }
  await Promise.all([throttle.clear(userKey), throttle.release(ipKey, policy)]);
  return openSession(user, input);
}

/** The login throttle's policy, for the legacy user-name login (the same limits). */
export function loginThrottlePolicy(): IdentitySettings['throttle'] {
  return cfg().throttle;
}

/**
 * Opens a session for a user whose credentials were checked: the allowed address ranges, the
 * rotation of this browser's previous session, the audit entry. Shared by the e-mail login and the
 * legacy user-name login.
 */
export async function openSession(
  user: UserDoc,
  input: {
    ip: string;
    userAgent: string;
    previousCookie?: string | undefined;
    /** Signed in by setting a password or creating an administrator, not by a login (audited so). */
    afterSetup?: boolean;
  },
): Promise<sessions.CreatedSession> {
  if (!inAllowedRanges(input.ip, user.allowedIpRanges ?? [])) {
    await audit.record({
      action: 'login.ip_not_allowed',
      outcome: 'denied',
      actorId: String(user._id),
      actorEmail: user.email,
      ip: input.ip,
    });
    throw new Forbidden('ip_not_allowed');
  }
  // Rotation: whatever session this browser had is ended, the new one gets a fresh id.
  if (input.previousCookie) {
    try {
      const previous = await sessions.authenticate({
        cookie: input.previousCookie,
        ip: input.ip,
        requireCsrf: false,
        activity: false,
      });
      await sessions.end(previous.id, 'rotated');
    } catch {
      // no live previous session
    }
  }
  await User.updateOne({ _id: user._id }, { $set: { lastLoginAt: new Date() } });
  const created = await sessions.create(String(user._id), input.ip, input.userAgent);
  await audit.record({
    action: 'login.succeeded',
    outcome: 'success',
    actorId: String(user._id),
    actorEmail: user.email,
    ip: input.ip,
    target: created.session.id,
    ...(input.afterSetup ? { details: { via: 'password_set' } } : {}),
  });
  return created;
}

/**
 * Signs a person in who has just proved their address and chosen a password (registration,
 * invitation, reset, administrator set-up): no second login, the same rules as one. Undefined
 * when their allowed address ranges refuse this address (audited); they log in from another.
 */
export async function signInAfterSetup(
  userId: string,
  input: { ip: string; userAgent: string; previousCookie?: string | undefined },
): Promise<sessions.CreatedSession | undefined> {
  const user = (await User.findById(userId).lean()) as UserDoc | null;
  if (!user || user.status !== 'active') return undefined;
  try {
    return await openSession(user, { ...input, afterSetup: true });
  } catch (err) {
    if (err instanceof Forbidden && err.code === 'ip_not_allowed') return undefined;
    throw err;
  }
}

/** Ends the caller's session on the server: the cookie is worthless afterwards. */
export async function logout(caller: Caller): Promise<void> {
  if (caller.sessionId) await sessions.end(caller.sessionId, 'logout');
  await audit.record({
    action: 'logout',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
  });
}

// ─── Own account ─────────────────────────────────────────────────────────────────────────────────

async function ownUser(caller: Caller): Promise<UserDoc> {
  const user = (await User.findById(caller.userId).lean()) as UserDoc | null;
  if (!user) throw new NotFound('user_not_found');
  return user;
}

/** The caller's own account. */
export async function getAccount(caller: Caller): Promise<PublicUser> {
  return toPublicUser(await ownUser(caller));
}

/** Changes the caller's name, phone and language. */
export async function updateProfile(
  caller: Caller,
  input: { name?: string | undefined; phone?: string | undefined; language?: UserLanguage | undefined },
): Promise<PublicUser> {
  const set: Record<string, string> = {};
  if (input.name !== undefined) set.name = input.name.trim();
  if (input.phone !== undefined) set.phone = input.phone.trim();
  if (input.language !== undefined) set.language = input.language;
  const updated = (await User.findOneAndUpdate(
    { _id: caller.userId },
    { $set: set },
    { new: true },
  ).lean()) as UserDoc | null;
  if (!updated) throw new NotFound('user_not_found');
  await sessions.refreshUser(caller.userId);
  await audit.record({
    action: 'profile.updated',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    details: { fields: Object.keys(set).join(',') },
  });
  return toPublicUser(updated);
}

/** Changes the password with the old one; ends the caller's other sessions and tells the user by mail. */
export async function changePassword(caller: Caller, input: { current: string; next: string }): Promise<void> {
  const user = await ownUser(caller);
  await checkOwnPassword(caller, user, input.current, 'password.change');
  checkPasswordPolicy(input.next, { email: user.emailLower });
  if (await verifyPassword(input.next, user.passwordHash, cfg().bcryptCost)) throw new Invalid('password_unchanged');
  await User.updateOne(
    { _id: user._id },
    { $set: { passwordHash: await hashPassword(input.next, cfg().bcryptCost), passwordChangedAt: new Date() } },
  );
  const ended = await sessions.endAllForUser(caller.userId, 'password_changed', caller.sessionId);
  await mailToUser(user, 'password_changed', {
    when: formatWhen(new Date(), user.language as UserLanguage),
    ip: caller.ip,
  });
  await audit.record({
    action: 'password.changed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    details: { otherSessionsEnded: ended },
  });
}

/**
 * Starts an e-mail change: the password again, then a code to the new address. The answer is the
 * same whether or not the new address is taken (a taken one gets a notice instead of a code).
 */
export async function requestEmailChange(caller: Caller, input: { newEmail: string; password: string }): Promise<void> {
  await reauthenticate(caller, input.password);
  const { email, emailLower } = normalizeEmail(input.newEmail);
  const user = await ownUser(caller);
  if (emailLower === user.emailLower) throw new Invalid('email_unchanged');
  if (user.accountType === 'main' && /^[^@]*\+[^@]*@/.test(emailLower)) throw new Invalid('main_account_plus_address');
  const lang = user.language as UserLanguage;
  if (await User.exists({ emailLower })) {
    await mail.send({ to: email, lang, kind: 'email_change_taken', params: {} });
  } else {
    await User.updateOne({ _id: user._id }, { $set: { pendingEmail: email } });
    const issued = await verification.issue({ purpose: 'email_change', emailLower, withCode: true, direct: true });
    if (issued?.code) {
      await mail.send({
        to: email,
        lang,
        kind: 'email_change_code',
        params: { code: issued.code, minutes: verification.CODE_TTL_MS / 60_000 },
      });
    }
  }
  await audit.record({
    action: 'email_change.requested',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
  });
}

/** Completes an e-mail change with the code from the new address; the old address is told. */
export async function confirmEmailChange(caller: Caller, input: { code: string }): Promise<PublicUser> {
  const user = await ownUser(caller);
  if (!user.pendingEmail) throw new Invalid('code_invalid');
  const { email, emailLower } = normalizeEmail(user.pendingEmail);
  await verification.verifyCode('email_change', emailLower, input.code);
  let updated: UserDoc | null;
  try {
    updated = (await User.findOneAndUpdate(
      { _id: user._id },
      // The code reached the new address: it is proven.
      { $set: { email, emailLower, emailVerifiedAt: new Date() }, $unset: { pendingEmail: 1 } },
      { new: true },
    ).lean()) as UserDoc | null;
  } catch (err) {
    if ((err as { code?: number }).code === 11000) throw new Invalid('code_invalid');
    throw err;
  }
  if (!updated) throw new NotFound('user_not_found');
  // The old address hears of it directly, never redirected: it is the one that may have been taken over.
  await mail.send({
    to: user.email,
    lang: user.language as UserLanguage,
    kind: 'email_changed',
    params: { newEmail: email, when: formatWhen(new Date(), user.language as UserLanguage) },
  });
  await throttle.clear(`login:${user.emailLower}`);
  await sessions.refreshUser(caller.userId);
  await audit.record({
    action: 'email_change.completed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: email,
    ip: caller.ip,
    // The old address as the target (outside the hashed part, so it can be erased).
    target: user.email,
  });
  return toPublicUser(updated);
}

/** The caller's live sessions. */
export function listOwnSessions(caller: Caller): Promise<sessions.SessionListItem[]> {
  return sessions.listForUser(caller.userId, caller.sessionId);
}

/** Ends one of the caller's own sessions. */
export async function endOwnSession(caller: Caller, sessionId: string): Promise<void> {
  if (!(await sessions.belongsTo(sessionId, caller.userId))) throw new NotFound('session_not_found');
  await sessions.end(sessionId, 'revoked');
  await audit.record({
    action: 'session.revoked',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: sessionId,
  });
}

/** Ends all the caller's sessions but the current one. */
export async function endOtherSessions(caller: Caller): Promise<number> {
  const ended = await sessions.endAllForUser(caller.userId, 'revoked', caller.sessionId);
  await audit.record({
    action: 'session.revoked_others',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    details: { ended },
  });
  return ended;
}

// ─── Administration ──────────────────────────────────────────────────────────────────────────────

function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
}

/** A user in the admin list, with whether they are locked out now. */
export interface AdminUserItem extends PublicUser {
  lockedUntil: string | null;
}

/** Users matching a search in name or e-mail, newest first, one page. Admins only. */
export async function listUsers(
  caller: Caller,
  query: { q?: string | undefined; page: number; pageSize: number },
): Promise<{ items: AdminUserItem[]; total: number }> {
  requireAdmin(caller);
  const [{ docs, total }, lockouts] = await Promise.all([
    searchUsers(query.q ?? '', query.page, query.pageSize),
    throttle.lockoutsInForce('login:'),
  ]);
  const items = docs.map((doc) => ({
    ...toPublicUser(doc),
    lockedUntil: lockouts.get(`login:${doc.emailLower}`)?.toISOString() ?? null,
  }));
  return { items, total };
}

/** Lifts a login lockout of a user. Admins only. */
export async function unlockUser(caller: Caller, userId: string): Promise<void> {
  requireAdmin(caller);
  const user = /^[0-9a-f]{24}$/.test(userId) ? await User.findById(userId).lean() : null;
  if (!user) throw new NotFound('user_not_found');
  await throttle.clear(`login:${user.emailLower}`);
  await audit.record({
    action: 'admin.user_unlocked',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: user.email,
  });
}

/**
 * Asks the caller for their password again before a change to someone's access (ASVS V3.7.1):
 * an unattended, signed-in browser must not be enough to open an account to the world.
 */
export async function reauthenticate(caller: Caller, password: string): Promise<void> {
  const me = (await User.findById(caller.userId).lean()) as UserDoc | null;
  await checkOwnPassword(caller, me, password, 'reauth.failed');
}

/**
 * Checks the password a signed-in person typed again, under the login's limits and on the login's
 * count of the account: a borrowed, signed-in browser guesses no faster than the sign-in page, and
 * while the account is locked even the right password is refused (RateLimited). Audits a failure
 * as `failedAction`.
 */
async function checkOwnPassword(
  caller: Caller,
  me: UserDoc | null,
  password: string,
  failedAction: string,
): Promise<void> {
  const failed = async (failures?: number): Promise<void> =>
    audit.record({
      action: failedAction,
      outcome: 'failure',
      actorId: caller.userId,
      actorEmail: caller.email,
      ip: caller.ip,
      ...(failures !== undefined ? { details: { failures } } : {}),
    });
  if (!me) {
    await failed();
    throw new Invalid('current_password_wrong');
  }
  const key = `login:${me.emailLower}`;
  const policy = cfg().throttle;
  try {
    await throttle.reserve([key], policy);
  } catch (err) {
    if (err instanceof RateLimited)
      await audit.record({
        action: 'reauth.refused_locked',
        outcome: 'denied',
        actorId: caller.userId,
        actorEmail: caller.email,
        ip: caller.ip,
      });
    throw err;
  }
  let ok: boolean;
  try {
    ok = await verifyPassword(password, me.passwordHash, cfg().bcryptCost);
  } catch (err) {
    await throttle.release(key, policy);
    throw err;
  }
  if (ok) {
    await throttle.clear(key);
    return;
  }
  const outcome = await throttle.recordFailure(key, policy);
  await failed(outcome.failures);
  if (outcome.lockedUntil) {
    const minutes = Math.ceil((outcome.lockedUntil.getTime() - Date.now()) / 60_000);
    await audit.record({
      action: 'login.locked',
      outcome: 'denied',
      actorId: caller.userId,
      actorEmail: caller.email,
      ip: caller.ip,
      details: { minutes, by: 'reauth' },
    });
    await mailToUser(me, 'account_locked', { minutes, failures: outcome.failures });
  }
  await sleep(outcome.delayMs);
  if (outcome.lockedUntil)
    throw new RateLimited('locked', Math.ceil((outcome.lockedUntil.getTime() - Date.now()) / 1000));
  throw new Invalid('current_password_wrong');
}

/**
 * Loads an account the caller may manage (operators: any; a main account: its sub-accounts).
 * Throws Forbidden otherwise, the same for unknown and foreign accounts.
 */
export async function loadManagedUser(caller: Caller, userId: string): Promise<UserDoc> {
  const target = /^[0-9a-f]{24}$/.test(userId) ? ((await User.findById(userId).lean()) as UserDoc | null) : null;
  assertCanManage(
    caller,
    target && {
      id: String(target._id),
      role: target.role as Role,
      organizationId: target.organizationId ?? undefined,
      accountType: (target.accountType as AccountType | null) ?? undefined,
    },
  );
  return target as UserDoc;
}

/** Most ranges one user may have; more is a mistake, not a network plan. */
const MAX_IP_RANGES = 50;

/**
 * Sets the CIDR ranges a user may sign in and work from (empty: anywhere): operators for anyone, a main account for its sub-accounts; asks for
 * the caller's password. Live sessions outside the new ranges end at their next request.
 */
export async function setAllowedIpRanges(
  caller: Caller,
  userId: string,
  input: { ranges: string[]; password: string },
): Promise<PublicUser> {
  await loadManagedUser(caller, userId);
  const invalid = input.ranges.find((r) => !isCidr(r.trim()));
  if (invalid !== undefined) throw new Invalid('ip_range_invalid', `not a CIDR range: ${invalid}`);
  const ranges = [...new Set(input.ranges.map((r) => normalizeCidr(r.trim())))];
  if (ranges.length > MAX_IP_RANGES) throw new Invalid('ip_ranges_too_many');
  await reauthenticate(caller, input.password);
  const user = /^[0-9a-f]{24}$/.test(userId)
    ? ((await User.findOneAndUpdate(
        { _id: userId },
        { $set: { allowedIpRanges: ranges } },
        { new: true },
      ).lean()) as UserDoc | null)
    : null;
  if (!user) throw new NotFound('user_not_found');
  await sessions.refreshUser(userId);
  await audit.record({
    action: 'access.ip_ranges_changed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: user.email,
    details: { ranges: ranges.join(' ') || 'any' },
  });
  return toPublicUser(user);
}

/** Everything an operator sees about one user on the detail page. */
export interface UserDetail {
  user: AdminUserItem & { accountType: AccountType | null; rights: string[]; redirectToMain: boolean };
  organization: { id: string; name: string } | null;
  sessions: sessions.SessionListItem[];
  audit: audit.AuditView[];
}

/** One user with sessions, lockout, organization and recent audit entries (operators; a main account for its sub-accounts). */
export async function getUserDetail(caller: Caller, userId: string): Promise<UserDetail> {
  const user = await loadManagedUser(caller, userId);
  const [lockedUntil, liveSessions, recent, org] = await Promise.all([
    throttle.lockedUntil(`login:${user.emailLower}`),
    sessions.listForUser(userId),
    audit.listForActor(userId, 20),
    user.organizationId ? Organization.findById(user.organizationId, { name: 1 }).lean() : null,
  ]);
  return {
    user: {
      ...toPublicUser(user),
      lockedUntil: lockedUntil?.toISOString() ?? null,
      accountType: (user.accountType as AccountType | null) ?? null,
      rights: user.rights ?? [],
      redirectToMain: user.redirectToMain ?? false,
    },
    organization: org ? { id: String(org._id), name: org.name } : null,
    sessions: liveSessions,
    audit: recent,
  };
}

/** Ends one or all sessions of a user (operators; a main account for its sub-accounts). */
export async function endUserSessions(caller: Caller, userId: string, sessionId?: string): Promise<number> {
  const user = await loadManagedUser(caller, userId);
  let ended: number;
  if (sessionId) {
    if (!(await sessions.belongsTo(sessionId, userId))) throw new NotFound('session_not_found');
    await sessions.end(sessionId, 'revoked');
    ended = 1;
  } else {
    ended = await sessions.endAllForUser(userId, 'revoked');
  }
  await audit.record({
    action: 'access.sessions_revoked',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: user.email,
    details: { ended },
  });
  return ended;
}

/** Disables or re-enables an account; disabling ends its sessions at once. Nobody disables themselves. */
export async function setUserStatus(
  caller: Caller,
  userId: string,
  status: 'active' | 'disabled',
): Promise<PublicUser> {
  const user = await loadManagedUser(caller, userId);
  if (userId === caller.userId) throw new Forbidden('not_yourself');
  if (user.status === 'pending' && status === 'active') throw new Invalid('account_pending');
  const updated = (await User.findOneAndUpdate(
    { _id: user._id },
    { $set: { status } },
    { new: true },
  ).lean()) as UserDoc | null;
  if (!updated) throw new NotFound('user_not_found');
  await sessions.refreshUser(userId);
  await audit.record({
    action: status === 'disabled' ? 'access.user_disabled' : 'access.user_enabled',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: user.email,
  });
  return toPublicUser(updated);
}

// ─── First administrator ─────────────────────────────────────────────────────────────────────────

/** True when no administrator exists yet. */
export async function needsFirstAdmin(): Promise<boolean> {
  return (await User.countDocuments({ role: 'admin' })) === 0;
}

/**
 * A one-time link to create an administrator, for the console (at first start) or the CLI.
 * Valid 24 hours; a new link invalidates the previous one for the same address.
 */
export async function createAdminSetupLink(email?: string): Promise<string> {
  const emailLower = email ? normalizeEmail(email).emailLower : '';
  const issued = await verification.issue({
    purpose: 'admin_setup',
    emailLower,
    withCode: false,
    ttlMs: 24 * 3600_000,
  });
  if (!issued) throw new RateLimited('too_many_links', 3600);
  return link('/einrichten', issued.linkToken);
}

/** What the set-up page shows before the form: whether the link works, and the preset address. */
export async function checkAdminSetupLink(token: string): Promise<{ valid: boolean; email: string | null }> {
  const found = await verification.peekLink(token, 'admin_setup');
  return { valid: found !== undefined, email: found?.emailLower || null };
}

/** Creates an administrator from a set-up link, active at once (the operator vouches for the address). */
export async function completeAdminSetup(input: {
  token: string;
  email: string;
  name: string;
  password: string;
  ip: string;
}): Promise<PublicUser> {
  const found = await verification.peekLink(input.token, 'admin_setup');
  if (!found) throw new Invalid('link_invalid');
  const { email, emailLower } = normalizeEmail(found.emailLower || input.email);
  checkPasswordPolicy(input.password, { email: emailLower });
  const verified = await verification.verifyLink(input.token, ['admin_setup']);
  await verification.consumeSetup(verified.setupToken, ['admin_setup'], () => undefined);
  const passwordHash = await hashPassword(input.password, cfg().bcryptCost);
  const now = new Date();
  const user = (await User.findOneAndUpdate(
    { emailLower },
    {
      $set: {
        role: 'admin',
        status: 'active',
        passwordHash,
        passwordChangedAt: now,
        emailVerifiedAt: now,
        name: input.name.trim(),
      },
      $setOnInsert: { email, emailLower, language: 'de', createdAt: now },
    },
    { upsert: true, new: true },
  ).lean()) as UserDoc | null;
  if (!user) throw new Invalid('link_invalid');
  await sessions.endAllForUser(String(user._id), 'rotated');
  await audit.record({
    action: 'admin.created',
    outcome: 'success',
    actorId: String(user._id),
    actorEmail: user.email,
    ip: input.ip,
  });
  return toPublicUser(user);
}

/** E-mail and name of users by id, for lists that name people (depot grants, history). Unknown ids are left out. */
export async function describeUsers(ids: readonly string[]): Promise<Map<string, { email: string; name: string }>> {
  const valid = ids.filter((id) => /^[0-9a-f]{24}$/.test(id));
  const docs = valid.length ? await User.find({ _id: { $in: valid } }, { email: 1, name: 1 }).lean() : [];
  return new Map(docs.map((d) => [String(d._id), { email: d.email, name: d.name ?? '' }]));
}

/** What other modules may know of an account: enough to address it, name it and mail it. */
export interface AccountRef {
  id: string;
  email: string;
  emailLower: string;
  name: string;
  role: Role;
  status: UserStatus;
  organizationId: string | null;
}

function accountRef(doc: UserDoc): AccountRef {
  return {
    id: String(doc._id),
    email: doc.email,
    emailLower: doc.emailLower,
    name: doc.name ?? '',
    role: doc.role as Role,
    status: doc.status as UserStatus,
    organizationId: doc.organizationId ?? null,
  };
}

/** An account by id (undefined for an unknown or malformed id). */
export async function findAccount(userId: string): Promise<AccountRef | undefined> {
  if (!/^[0-9a-f]{24}$/.test(userId)) return undefined;
  const doc = (await User.findById(userId).lean()) as UserDoc | null;
  return doc ? accountRef(doc) : undefined;
}

/** An account by its address, compared case-insensitively (undefined when nobody has it). */
export async function findAccountByEmail(email: string): Promise<AccountRef | undefined> {
  const doc = (await User.findOne({ emailLower: normalizeEmail(email).emailLower }).lean()) as UserDoc | null;
  return doc ? accountRef(doc) : undefined;
}

/** Mails every active administrator in their language; returns how many. */
export async function mailAdmins<K extends MailKind>(
  kind: K,
  params: MailParams[K],
  deferred?: { source: string; ref: string },
): Promise<number> {
  const admins = await activeAdmins();
  for (const admin of admins)
    await mail.send({ to: admin.email, lang: admin.language as UserLanguage, kind, params, deferred });
  return admins.length;
}

/** Mails an account in its language, honouring a sub-account's redirect to its main account. */
export async function mailAccount<K extends MailKind>(userId: string, kind: K, params: MailParams[K]): Promise<void> {
  const doc = /^[0-9a-f]{24}$/.test(userId) ? ((await User.findById(userId).lean()) as UserDoc | null) : null;
  if (doc) await mailToUser(doc, kind, params);
}

/**
 * Mails the main account of an organization in its language, e.g. so the company's owner hears of
 * a change to where its money goes whoever made it. `params` is written for the recipient's
 * language (dates). Returns false when the organization has no main account (any more).
 */
export async function mailMainAccount<K extends MailKind>(
  organizationId: string,
  kind: K,
  params: (lang: UserLanguage) => MailParams[K],
): Promise<boolean> {
  if (!/^[0-9a-f]{24}$/.test(organizationId)) return false;
  const org = await Organization.findById(organizationId, { mainUserId: 1 }).lean();
  // After an erasure mainUserId is a pseudonym, not an id.
  const mainId = org?.mainUserId && /^[0-9a-f]{24}$/.test(org.mainUserId) ? org.mainUserId : undefined;
  const main = mainId ? await User.findById(mainId, { email: 1, language: 1 }).lean() : null;
  if (!main) return false;
  const lang = main.language as UserLanguage;
  await mail.send({ to: main.email, lang, kind, params: params(lang) });
  return true;
}

/** The portal's public address, for links in other modules' mails. */
export function publicUrl(): string {
  return cfg().publicUrl;
}

/** What other modules do when an account is deleted (areas remove its files, …). */
export type AccountDeletedHook = (account: { id: string; email: string }) => Promise<void>;
const accountDeletedHooks: AccountDeletedHook[] = [];

/**
 * Registers a module's clean-up for deleted accounts, so identity needs to know no other module.
 * Hooks run after the account is gone; a failing hook is logged and does not stop the others.
 */
export function onAccountDeleted(hook: AccountDeletedHook): void {
  accountDeletedHooks.push(hook);
}

/** Runs the clean-ups of every module for a deleted account. */
export async function accountDeleted(account: { id: string; email: string }): Promise<void> {
  for (const hook of accountDeletedHooks) {
    await hook(account).catch((err: unknown) =>
      cfg().logger.error({ err, userId: account.id }, 'clean-up after account deletion failed'),
    );
  }
}
