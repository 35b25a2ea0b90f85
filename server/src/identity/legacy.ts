/*
 * Legacy accounts after the import: the user-name login, the main account's wizard and the operators'
 * migration waves. Long because all three read the same legacy logins; issue 21 gives each its own file.
 */
import { runOnce } from '../db/migrations.js';
import { containsText, isDuplicateKeyError } from '../db/query.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcrypt';
import * as audit from '../audit/service.js';
import * as mail from '../mail/service.js';
import { Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized } from '../errors.js';
import { placeholderEmail } from './legacy-import.js';
import { LegacyCompany, LegacyLogin, MigrationWave, type LegacyLoginDoc, type WaveDoc } from './legacy-model.js';
import { mayRedirect } from './mail-to.js';
import { isPlusAddress } from './organizations.js';
import { loginThrottlePolicy, normalizeEmail, openSession, publicUrl, type Caller } from './service.js';
import * as verification from './verification.js';
import * as sessions from './sessions.js';
import * as throttle from './throttle.js';
import { User, type UserDoc, type UserLanguage } from './user-model.js';

/**
 * Logins of accounts taken over from older products (by user name and their old password), and
 * the migration waves that move companies to e-mail logins.
 */

/** Days after which an account invited to switch but not yet switched counts as stuck. */
const STUCK_DAYS = 7;

/** Cost of the bcrypt every legacy login pays at least: what the old products used. */
const LEGACY_BCRYPT_COST = 10;
/** A real bcrypt hash to compare against when the user name is unknown (made once, lazily). */
let dummyHash: Promise<string> | undefined;

/** One bcrypt comparison at {@link LEGACY_BCRYPT_COST} that decides nothing. */
async function dummyCompare(password: string): Promise<void> {
  dummyHash ??= bcrypt.hash('kis-legacy-dummy', LEGACY_BCRYPT_COST);
  await bcrypt.compare(password, await dummyHash);
}

/**
 * Compares a password with a legacy hash. Every path costs at least one bcrypt at the legacy cost:
 * a salted SHA-256 (or a cheaper bcrypt) takes microseconds where an unknown name's dummy takes tens
 * of milliseconds, and the difference would tell which user names exist (issue 20).
 */
async function verifyLegacyPassword(login: LegacyLoginDoc | null, password: string): Promise<boolean> {
  if (!login) {
    await dummyCompare(password);
    return false;
  }
  if (login.algo === 'bcrypt') {
    const rounds = (() => {
      try {
        return bcrypt.getRounds(login.hash);
      } catch {
        return 0;
      }
    })();
    if (rounds < LEGACY_BCRYPT_COST) await dummyCompare(password);
    return bcrypt.compare(password, login.hash).catch(() => false);
  }
  const expected = Buffer.from(login.hash, 'hex');
  const actual = createHash('sha256').update(`${login.salt}${password}`).digest();
  await dummyCompare(password);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Logs in by legacy user name and password. Accounts of companies not yet in a started wave log in
 * as before; a migrated account is refused with the guidance to use its e-mail address. The same
 * limits as the e-mail login, with the attempt reserved before the password is compared.
 */
export async function legacyLogin(input: {
  username: string;
  password: string;
  ip: string;
  userAgent: string;
  previousCookie?: string | undefined;
}): Promise<sessions.CreatedSession> {
  const name = input.username.trim().toLowerCase();
  const userKey = `login:legacy:${name}`;
  const ipKey = `login-ip:${input.ip}`;
  const policy = loginThrottlePolicy();
  await throttle.reserve([userKey, ipKey], policy);
  let login: LegacyLoginDoc | null;
  let ok: boolean;
  let user: UserDoc | null;
  try {
    login = (await LegacyLogin.findOne({ _id: name }).lean()) as LegacyLoginDoc | null;
    ok = await verifyLegacyPassword(login, input.password);
    user = ok && login ? ((await User.findById(login.userId).lean()) as UserDoc | null) : null;
  } catch (err) {
    await Promise.all([throttle.release(userKey, policy), throttle.release(ipKey, policy)]);
    throw err;
  }
  if (!ok || !login || !user || user.status !== 'active') {
    const [byUser, byIp] = await Promise.all([
      throttle.recordFailure(userKey, policy),
      throttle.recordFailure(ipKey, policy),
    ]);
    await audit.record({
      action: 'legacy_login.failed',
      outcome: 'failure',
      actorId: login?.userId,
      ip: input.ip,
      target: login ? login._id : undefined,
    });
    const lockedUntil = byUser.lockedUntil ?? byIp.lockedUntil;
    if (lockedUntil) throw new RateLimited('locked', Math.ceil((lockedUntil.getTime() - Date.now()) / 1000));
    throw new Unauthorized('invalid_credentials');
  }
  // A lockout that began while the password was compared still holds.
  try {
    await throttle.assertNotLocked([userKey, ipKey]);
  } catch (err) {
    await Promise.all([throttle.release(userKey, policy), throttle.release(ipKey, policy)]);
    throw err;
  }
  await Promise.all([throttle.clear(userKey), throttle.release(ipKey, policy)]);
  // An account whose chosen address belonged to someone else keeps its user name until settled.
  if (login.state !== 'legacy' && !login.chosenEmail) {
    await audit.record({
      action: 'legacy_login.after_migration',
      outcome: 'denied',
      actorId: login.userId,
      ip: input.ip,
    });
    throw new Conflict('legacy_migrated');
  }
  await LegacyLogin.updateOne({ _id: login._id }, { $set: { lastLegacyLoginAt: new Date() } });
  return openSession(user, input);
}

/** What the portal tells a legacy account after its login: whether its company switches now. */
export interface LegacyStatus {
  legacy: boolean;
  username: string | null;
  state: 'legacy' | 'invited' | 'migrated' | null;
  isMain: boolean;
  /** The company is in a wave that has started: it can (and should) switch now. */
  canSwitch: boolean;
}

/** The caller's legacy status; the first time the notice shows in a started wave, that is noted. */
export async function legacyStatus(caller: Caller): Promise<LegacyStatus> {
  const login = (await LegacyLogin.findOne({ userId: caller.userId }).lean()) as LegacyLoginDoc | null;
  if (!login) return { legacy: false, username: null, state: null, isMain: false, canSwitch: false };
  const company = await LegacyCompany.findById(login.companyKey).lean();
  const wave = company?.waveId ? await MigrationWave.findById(company.waveId).lean() : null;
  const canSwitch = Boolean(wave?.startedAt) && login.state === 'legacy';
  if (canSwitch && !login.noticeSeenAt)
    await LegacyLogin.updateOne(
      { _id: login._id, noticeSeenAt: { $exists: false } },
      { $set: { noticeSeenAt: new Date() } },
    );
  return {
    legacy: true,
    username: login.username,
    state: login.state as LegacyStatus['state'],
    isMain: login.isMain,
    canSwitch,
  };
}

/** Creates the legacy collections' indexes. */
export async function init(): Promise<void> {
  await Promise.all([LegacyLogin.createIndexes(), LegacyCompany.createIndexes(), MigrationWave.createIndexes()]);
  await runOnce('2026-12-legacy-addresses-unproven', forgetUnprovenAddresses);
}

/**
 * The wizard used to mark every chosen address verified, and mailed redirected accounts' links to
 * the main account. Such an address was never proven: an account still waiting for its link, or
 * one whose link went to the main account, is unverified again until a link reaches the address.
 */
async function forgetUnprovenAddresses(): Promise<void> {
  const waiting = await LegacyLogin.find({ state: 'invited' }, { userId: 1 }).lean();
  const finished = await LegacyLogin.find({ state: 'migrated' }, { userId: 1 }).lean();
  await User.updateMany({ _id: { $in: waiting.map((l) => l.userId) } }, { $unset: { emailVerifiedAt: 1 } });
  await User.updateMany(
    { _id: { $in: finished.map((l) => l.userId) }, redirectToMain: true },
    { $unset: { emailVerifiedAt: 1 } },
  );
}

// ─── The main account's wizard ───────────────────────────────────────────────────────────────────

/** How long the link to set the new password holds. */
const INVITE_DAYS = 7;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,}$/;

/** One account of the company as the wizard lists it. */
export interface WizardAccount {
  userId: string;
  username: string;
  displayName: string;
  isMain: boolean;
  state: 'legacy' | 'invited' | 'migrated';
  /** The address it got, once chosen. */
  email: string | null;
}

/** The caller's legacy login when they may run the wizard: a main account of a company in a started wave. */
async function wizardOwner(caller: Caller): Promise<LegacyLoginDoc> {
  const login = (await LegacyLogin.findOne({ userId: caller.userId }).lean()) as LegacyLoginDoc | null;
  if (!login?.isMain) throw new Forbidden('forbidden', 'only the main account of a legacy company');
  const company = await LegacyCompany.findById(login.companyKey).lean();
  const wave = company?.waveId ? await MigrationWave.findById(company.waveId).lean() : null;
  if (!wave?.startedAt) throw new Forbidden('wave_not_started');
  return login;
}

/** The company's accounts, main account first. */
export async function wizardAccounts(caller: Caller): Promise<WizardAccount[]> {
  const owner = await wizardOwner(caller);
  const logins = (await LegacyLogin.find({ companyKey: owner.companyKey }).lean()) as LegacyLoginDoc[];
  const users = new Map(
    (await User.find({ _id: { $in: logins.map((l) => l.userId) } }).lean()).map((u) => [String(u._id), u] as const),
  );
  return logins
    .map((l) => {
      const user = users.get(l.userId);
      const email = user && !user.emailLower.endsWith('.invalid') ? user.email : (l.chosenEmail ?? null);
      return {
        userId: l.userId,
        username: l.username,
        displayName: user?.name ?? '',
        isMain: l.isMain,
        state: l.state as WizardAccount['state'],
        email,
      };
    })
    .sort((a, b) => Number(b.isMain) - Number(a.isMain) || a.username.localeCompare(b.username));
}

/**
 * Whether an address can be chosen for an account: well-formed, no plus-address for a main account,
 * and not held by another account of the caller's own company. Whether an address has an account
 * elsewhere in KIS is nobody's business but its owner's (issue 20: no enumeration), so such an
 * address counts as free here; {@link confirmWizard} tells its owner instead of inviting it.
 */
export async function checkAddress(
  caller: Caller,
  input: { email: string; forMain: boolean },
): Promise<{ available: boolean; reason: 'invalid' | 'taken' | 'plus_main' | null }> {
  await wizardOwner(caller);
  const { email, emailLower } = normalizeEmail(input.email);
  if (!EMAIL.test(email) || emailLower.endsWith('.invalid')) return { available: false, reason: 'invalid' };
  if (input.forMain && isPlusAddress(email)) return { available: false, reason: 'plus_main' };
  const holder = await User.findOne({ emailLower }, { organizationId: 1 }).lean();
  const taken = holder !== null && ownCompany(caller, holder);
  return { available: !taken, reason: taken ? 'taken' : null };
}

/** True when an account belongs to the caller's own company (whose members the main account sees anyway). */
function ownCompany(caller: Caller, holder: { organizationId?: string | null | undefined }): boolean {
  return Boolean(caller.organizationId) && holder.organizationId === caller.organizationId;
}

/**
 * Confirms the company's new addresses: each account gets its address (main account first, as the
 * redirected mails go to it), its user name stops working, and a link to set its password is
 * mailed to the address itself (using it proves the address). Every account still on its user
 * name must get an address; a duplicate, or an address of another member of the own company,
 * refuses the whole step. An address with an account elsewhere in KIS is answered like a free one
 * and settled without naming its holder (see {@link tellAddressTaken}).
 */
export async function confirmWizard(
  caller: Caller,
  input: { accounts: ReadonlyArray<{ userId: string; email: string; redirectToMain: boolean }> },
): Promise<WizardAccount[]> {
  const owner = await wizardOwner(caller);
  const logins = (await LegacyLogin.find({ companyKey: owner.companyKey, state: 'legacy' }).lean()) as LegacyLoginDoc[];
  const byUser = new Map(input.accounts.map((a) => [a.userId, a] as const));
  if (
    logins.some((l) => !byUser.has(l.userId)) ||
    input.accounts.some((a) => !logins.some((l) => l.userId === a.userId))
  )
    throw new Invalid('accounts_incomplete');
  const seen = new Set<string>();
  for (const login of logins) {
    const chosen = byUser.get(login.userId);
    if (!chosen) continue;
    const { email, emailLower } = normalizeEmail(chosen.email);
    if (!EMAIL.test(email) || emailLower.endsWith('.invalid')) throw new Invalid('email_invalid');
    if (login.isMain && (isPlusAddress(email) || chosen.redirectToMain)) throw new Invalid('main_account_plus_address');
    if (seen.has(emailLower)) throw new Conflict('email_duplicate');
    seen.add(emailLower);
  }
  const holders = await User.find({ emailLower: { $in: [...seen] } }, { emailLower: 1, organizationId: 1 }).lean();
  // A member of the own company the main account sees anyway; any other holder stays unnamed.
  if (holders.some((h) => ownCompany(caller, h))) throw new Conflict('email_taken');
  const elsewhere = new Set(holders.map((h) => h.emailLower));
  // A redirect only where the company controls the mailbox: a plus-address of one of the addresses
  // chosen here (it starts redirecting once that one is proven) or of a proven one, or an address
  // at the company's confirmed domain.
  for (const chosen of input.accounts)
    if (
      chosen.redirectToMain &&
      !(await mayRedirect(normalizeEmail(chosen.email).emailLower, caller.organizationId ?? '', [...seen]))
    )
      throw new Invalid('redirect_not_allowed');

  // The main account first: redirected mails of the others go to its new address.
  const ordered = [...logins].sort((a, b) => Number(b.isMain) - Number(a.isMain));
  const organization = await LegacyCompany.findById(owner.companyKey).lean();
  let mainHasAddress = true;
  for (const login of ordered) {
    const chosen = byUser.get(login.userId);
    if (!chosen) continue;
    const { email, emailLower } = normalizeEmail(chosen.email);
    // Without the main account's address a redirect would lead nowhere: the plus-address itself gets the mail.
    const redirectToMain = !login.isMain && chosen.redirectToMain && mainHasAddress;
    let given = !elsewhere.has(emailLower);
    if (given) {
      try {
        // The address is proven only when the person uses the link mailed to it, never by the main account's word.
        await User.updateOne(
          { _id: login.userId, emailLower: placeholderEmail(login._id) },
          { $set: { email, emailLower, redirectToMain } },
        );
      } catch (err) {
        // Taken between the check and now (another company's wizard): like an address taken before.
        if (!isDuplicateKeyError(err)) throw err;
        given = false;
      }
    }
    await LegacyLogin.updateOne(
      { _id: login._id, state: 'legacy' },
      { $set: { state: 'invited', invitedAt: new Date(), ...(given ? {} : { chosenEmail: email }) } },
    );
    if (!given) {
      if (login.isMain) mainHasAddress = false;
      await tellAddressTaken(caller, login, email, organization?.name ?? '');
      continue;
    }
    // Live sessions show the new address at once.
    await sessions.refreshUser(login.userId);
    const issued = await verification.issue({
      purpose: 'invite',
      emailLower,
      withCode: false,
      ttlMs: INVITE_DAYS * 86_400_000,
      direct: true,
    });
    // To the address itself, never redirected: using the link is what proves the address.
    const user = issued ? await User.findById(login.userId, { language: 1 }).lean() : null;
    if (issued && user) {
      await mail.send({
        to: email,
        lang: user.language as UserLanguage,
        kind: 'migration_invite',
        params: {
          link: `${publicUrl()}/einladung#token=${encodeURIComponent(issued.linkToken)}`,
          organization: organization?.name ?? '',
          username: login.username,
          days: INVITE_DAYS,
        },
      });
    }
    await audit.record({
      action: 'migration.account_invited',
      outcome: 'success',
      actorId: caller.userId,
      actorEmail: caller.email,
      ip: caller.ip,
      target: email,
      details: { username: login.username, redirectToMain },
    });
  }
  return wizardAccounts(caller);
}

/**
 * The wizard chose an address that already has an account elsewhere in KIS. The main account is
 * answered as if the account were invited (nothing tells it whose the address is); the address
 * is told instead of invited, the account keeps its user name, and the operators see it in the
 * audit log and, after a week, among the stuck accounts.
 */
async function tellAddressTaken(
  caller: Caller,
  login: LegacyLoginDoc,
  email: string,
  organization: string,
): Promise<void> {
  const holder = await User.findOne({ emailLower: email.toLowerCase() }, { language: 1 }).lean();
  await mail.send({
    to: email,
    lang: (holder?.language as UserLanguage | undefined) ?? 'de',
    kind: 'migration_address_taken',
    params: { organization, username: login.username },
  });
  await audit.record({
    action: 'migration.address_taken',
    outcome: 'failure',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: email,
    details: { username: login.username },
  });
}

/** An e-mail login of an account that was invited: its migration is finished. */
export async function loggedInByEmail(userId: string): Promise<void> {
  const done = await LegacyLogin.findOneAndUpdate(
    { userId, state: 'invited' },
    { $set: { state: 'migrated', migratedAt: new Date() } },
  ).lean();
  if (done)
    await audit.record({
      action: 'migration.account_finished',
      outcome: 'success',
      actorId: userId,
      target: done.username,
    });
}

// ─── Waves (operators) ───────────────────────────────────────────────────────────────────────────

function adminOnly(caller: Caller): void {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
}

/** A wave with how far its companies are. */
export interface WaveView {
  id: string;
  name: string;
  startedAt: string | null;
  companies: number;
  accounts: number;
  /** Accounts that saw the notice at a legacy login since the wave started. */
  notified: number;
  /** Accounts whose main account entered their address (a set-password link went out). */
  started: number;
  /** Accounts that logged in with their address. */
  finished: number;
  /** Invited more than a week ago and not finished: user names to help. */
  stuck: string[];
}

async function waveView(wave: WaveDoc): Promise<WaveView> {
  const companies = await LegacyCompany.find({ waveId: String(wave._id) }, { _id: 1 }).lean();
  const logins = (await LegacyLogin.find({
    companyKey: { $in: companies.map((c) => c._id) },
  }).lean()) as LegacyLoginDoc[];
  const stuckBefore = Date.now() - STUCK_DAYS * 86_400_000;
  return {
    id: String(wave._id),
    name: wave.name,
    startedAt: wave.startedAt?.toISOString() ?? null,
    companies: companies.length,
    accounts: logins.length,
    notified: logins.filter((l) => l.noticeSeenAt || l.state !== 'legacy').length,
    started: logins.filter((l) => l.state !== 'legacy').length,
    finished: logins.filter((l) => l.state === 'migrated').length,
    stuck: logins
      .filter((l) => l.state === 'invited' && l.invitedAt && l.invitedAt.getTime() < stuckBefore)
      .map((l) => l.username)
      .slice(0, 100),
  };
}

export async function listWaves(caller: Caller): Promise<WaveView[]> {
  adminOnly(caller);
  const waves = (await MigrationWave.find({}).sort({ createdAt: 1 }).lean()) as WaveDoc[];
  return Promise.all(waves.map(waveView));
}

export async function createWave(caller: Caller, name: string): Promise<WaveView> {
  adminOnly(caller);
  const wave = await MigrationWave.create({ name: name.trim(), createdAt: new Date(), createdBy: caller.userId });
  await audit.record({
    action: 'migration.wave_created',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: wave.name,
  });
  return waveView(wave.toObject() as WaveDoc);
}

async function loadWave(waveId: string): Promise<WaveDoc> {
  const wave = /^[0-9a-f]{24}$/.test(waveId) ? ((await MigrationWave.findById(waveId).lean()) as WaveDoc | null) : null;
  if (!wave) throw new NotFound('wave_not_found');
  return wave;
}

/** Puts companies (by their legacy name) into a wave; a company is in one wave at most. */
export async function assignCompanies(
  caller: Caller,
  waveId: string,
  companyKeys: readonly string[],
): Promise<WaveView> {
  adminOnly(caller);
  const wave = await loadWave(waveId);
  const keys = companyKeys.map((k) => k.trim().toLowerCase());
  const found = await LegacyCompany.countDocuments({ _id: { $in: keys } });
  if (found !== keys.length) throw new Invalid('company_unknown');
  await LegacyCompany.updateMany({ _id: { $in: keys } }, { $set: { waveId } });
  await audit.record({
    action: 'migration.companies_assigned',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: wave.name,
    details: { companies: keys.length },
  });
  return waveView(wave);
}

/** Starts a wave: from now on its accounts see, at their legacy login, that they can switch. */
export async function startWave(caller: Caller, waveId: string): Promise<WaveView> {
  adminOnly(caller);
  const wave = await loadWave(waveId);
  if (!wave.startedAt) await MigrationWave.updateOne({ _id: wave._id }, { $set: { startedAt: new Date() } });
  await audit.record({
    action: 'migration.wave_started',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: wave.name,
  });
  return waveView(await loadWave(waveId));
}

/** The legacy companies, by name, with their wave: for assigning them. */
export async function listLegacyCompanies(
  caller: Caller,
  query: { page: number; pageSize: number; q?: string | undefined },
): Promise<{ items: Array<{ key: string; name: string; waveId: string | null; accounts: number }>; total: number }> {
  adminOnly(caller);
  const filter = query.q?.trim() ? { _id: containsText(query.q.trim()) } : {};
  const [docs, total] = await Promise.all([
    LegacyCompany.find(filter)
      .sort({ _id: 1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    LegacyCompany.countDocuments(filter),
  ]);
  const items = [];
  for (const c of docs)
    items.push({
      key: c._id,
      name: c.name,
      waveId: c.waveId ?? null,
      accounts: await LegacyLogin.countDocuments({ companyKey: c._id }),
    });
  return { items, total };
}
