import * as audit from '../audit/service.js';
import { runOnce } from '../db/migrations.js';
import { containsText, isDuplicateKeyError, isObjectId } from '../db/query.js';
import { Conflict, Forbidden, Invalid, NotFound } from '../errors.js';
import { isRight, type Right } from './access.js';
import * as mail from '../mail/service.js';
import { mayRedirect } from './mail-to.js';
import { Organization, type OrganizationDoc } from './organization-model.js';
import {
  accountDeleted,
  loadManagedUser,
  normalizeEmail,
  reauthenticate,
  settingsForOrganizations,
  toPublicUser,
  type Caller,
  type PublicUser,
} from './service.js';
import * as sessions from './sessions.js';
import * as throttle from './throttle.js';
import { User, type UserDoc, type UserLanguage } from './user-model.js';
import * as verification from './verification.js';
import { isPublicMailDomain } from './public-mail-domains.js';

/** An invitation link for a new sub-account is valid this long: a week to find the mail. */
const INVITE_TTL_MS = 7 * 24 * 3600_000;

/** An organization as the API shows it. */
export interface OrganizationView {
  id: string;
  name: string;
  mainUserId: string;
  mainEmail: string | null;
  domains: Array<{ domain: string; confirmedAt: string }>;
  createdAt: string;
}

/** A member of an organization as its main account and the operators see it. */
export interface MemberView extends PublicUser {
  accountType: 'main' | 'sub';
  rights: Right[];
  redirectToMain: boolean;
}

function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
}

/** A plus-address (info+sales@example.com) is a pseudo address: fine for a sub-account, not for a main account. */
export function isPlusAddress(email: string): boolean {
  return /^[^@]*\+[^@]*@/.test(email);
}

async function view(org: OrganizationDoc): Promise<OrganizationView> {
  const main = await User.findById(org.mainUserId, { email: 1 }).lean();
  return {
    id: String(org._id),
    name: org.name,
    mainUserId: org.mainUserId,
    mainEmail: main?.email ?? null,
    domains: (org.domains ?? []).map((d) => ({ domain: d.domain, confirmedAt: d.confirmedAt.toISOString() })),
    createdAt: org.createdAt.toISOString(),
  };
}

function memberView(doc: UserDoc): MemberView {
  return {
    ...toPublicUser(doc),
    accountType: doc.accountType === 'main' ? 'main' : 'sub',
    rights: (doc.rights ?? []).filter(isRight),
    redirectToMain: doc.redirectToMain ?? false,
  };
}

/**
 * Makes a registered customer the main account of a new organization. Operators only. The main
 * account must use a real, unique address (no plus-address) and belong to no organization yet.
 */
export async function createOrganization(
  caller: Caller,
  input: { name: string; mainEmail: string },
): Promise<OrganizationView> {
  requireAdmin(caller);
  const { emailLower } = normalizeEmail(input.mainEmail);
  if (isPlusAddress(emailLower)) throw new Invalid('main_account_plus_address');
  const user = (await User.findOne({ emailLower }).lean()) as UserDoc | null;
  if (!user || user.role !== 'customer') throw new NotFound('user_not_found');
  if (user.organizationId) throw new Conflict('already_in_organization');
  const org = await Organization.create({
    name: input.name.trim(),
    mainUserId: String(user._id),
    createdAt: new Date(),
  });
  await User.updateOne(
    { _id: user._id },
    { $set: { organizationId: String(org._id), accountType: 'main', rights: [], redirectToMain: false } },
  );
  await sessions.refreshUser(String(user._id));
  await audit.record({
    action: 'org.created',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: org.name,
    // The main account by id: an address in the hashed details could never be erased.
    details: { mainUserId: String(user._id) },
  });
  return view(org.toObject() as OrganizationDoc);
}

/** Organizations by name, one page. Operators only. */
export async function listOrganizations(
  caller: Caller,
  query: { q?: string | undefined; page: number; pageSize: number },
): Promise<{ items: OrganizationView[]; total: number }> {
  requireAdmin(caller);
  const filter = query.q?.trim() ? { name: containsText(query.q.trim()) } : {};
  const [docs, total] = await Promise.all([
    Organization.find(filter)
      .sort({ name: 1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    Organization.countDocuments(filter),
  ]);
  return { items: await Promise.all((docs as OrganizationDoc[]).map(view)), total };
}

/** The organization and its members: operators any, a main account its own. */
export async function getOrganization(
  caller: Caller,
  organizationId: string,
): Promise<{ organization: OrganizationView; members: MemberView[] }> {
  const mayRead =
    caller.role === 'admin' || (caller.accountType === 'main' && caller.organizationId === organizationId);
  const org =
    mayRead && isObjectId(organizationId)
      ? ((await Organization.findById(organizationId).lean()) as OrganizationDoc | null)
      : null;
  if (!org) throw new NotFound('organization_not_found');
  const members = (await User.find({ organizationId }).sort({ accountType: 1, emailLower: 1 }).lean()) as UserDoc[];
  return { organization: await view(org), members: members.map(memberView) };
}

/** Records an e-mail domain as the company's after an operator checked it (area 2 is shared by domain). */
export async function confirmDomain(caller: Caller, organizationId: string, domain: string): Promise<OrganizationView> {
  requireAdmin(caller);
  const clean = domain.trim().toLowerCase().replace(/^@/, '');
  if (!/^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(clean))
    throw new Invalid('domain_invalid');
  // Everyone of a confirmed domain reads the company's information: never a free-mail domain.
  if (isPublicMailDomain(clean)) throw new Invalid('domain_public');
  const taken = await Organization.findOne(
    { 'domains.domain': clean, _id: { $ne: organizationId } },
    { _id: 1 },
  ).lean();
  if (taken) throw new Conflict('domain_taken');
  const org = isObjectId(organizationId)
    ? ((await Organization.findOneAndUpdate(
        { _id: organizationId, 'domains.domain': { $ne: clean } },
        { $push: { domains: { domain: clean, confirmedAt: new Date(), confirmedBy: caller.userId } } },
        { new: true },
      ).lean()) as OrganizationDoc | null)
    : null;
  const result =
    org ??
    (isObjectId(organizationId)
      ? ((await Organization.findById(organizationId).lean()) as OrganizationDoc | null)
      : null);
  if (!result) throw new NotFound('organization_not_found');
  await audit.record({
    action: 'org.domain_confirmed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: result.name,
    details: { domain: clean },
  });
  return view(result);
}

function checkRights(rights: readonly string[]): Right[] {
  const unknown = rights.find((r) => !isRight(r));
  if (unknown !== undefined) throw new Invalid('right_unknown', `unknown right ${unknown}`);
  return [...new Set(rights)] as Right[];
}

/** The organization a caller manages sub-accounts of: their own as main account, any for operators. */
async function managedOrganization(caller: Caller, organizationId: string | undefined): Promise<OrganizationDoc> {
  const id =
    caller.role === 'admin' ? organizationId : caller.accountType === 'main' ? caller.organizationId : undefined;
  if (caller.role !== 'admin' && organizationId !== undefined && organizationId !== caller.organizationId)
    throw new Forbidden('forbidden');
  const org = id && isObjectId(id) ? ((await Organization.findById(id).lean()) as OrganizationDoc | null) : null;
  if (!org) throw new Forbidden('forbidden');
  return org;
}

/** Refuses a redirect to the main account for an address the company does not control (see {@link mayRedirect}). */
async function assertMayRedirect(emailLower: string, organizationId: string): Promise<void> {
  if (!(await mayRedirect(emailLower, organizationId))) throw new Invalid('redirect_not_allowed');
}

/**
 * Creates a sub-account with its own address and rights, and mails it a one-time link to choose a
 * password. The invitation always goes to the address itself, never redirected: only whoever reads
 * that mailbox can accept it, and accepting proves the address. Main accounts for their company;
 * operators for any.
 */
export async function createSubAccount(
  caller: Caller,
  input: {
    organizationId?: string | undefined;
    email: string;
    name: string;
    rights: string[];
    redirectToMain: boolean;
  },
): Promise<{ status: 'invited' }> {
  const org = await managedOrganization(caller, input.organizationId);
  const rights = checkRights(input.rights);
  const { email, emailLower } = normalizeEmail(input.email);
  if (input.redirectToMain) await assertMayRedirect(emailLower, String(org._id));
  const main = await User.findById(org.mainUserId, { language: 1, name: 1, email: 1 }).lean();
  let created: UserDoc;
  try {
    created = (
      await User.create({
        email,
        emailLower,
        name: input.name.trim(),
        language: main?.language ?? 'de',
        role: 'customer',
        status: 'pending',
        organizationId: String(org._id),
        accountType: 'sub',
        rights,
        redirectToMain: input.redirectToMain,
        createdAt: new Date(),
      })
    ).toObject() as UserDoc;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    // Every account has its own address. Operators are told; a main account gets the answer it
    // gets for a new address, and the address's owner hears of the attempt (the owner is the one
    // who may want to join, and nobody learns from the answer who has an account).
    if (caller.role === 'admin') throw new Conflict('email_taken');
    await addressTaken(caller, org, emailLower);
    return { status: 'invited' };
  }
  const issued = await verification.issue({
    purpose: 'invite',
    emailLower,
    withCode: false,
    ttlMs: INVITE_TTL_MS,
    direct: true,
  });
  if (issued) {
    await mail.send({
      to: created.email,
      lang: created.language as UserLanguage,
      kind: 'invite',
      params: {
        link: `${settingsForOrganizations().publicUrl}/einladung#token=${encodeURIComponent(issued.linkToken)}`,
        organization: org.name,
        inviter: main?.name || main?.email || org.name,
        days: INVITE_TTL_MS / (24 * 3600_000),
      },
    });
  }
  await audit.record({
    action: 'subaccount.created',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: email,
    details: { rights: rights.join(' '), redirectToMain: input.redirectToMain },
  });
  return { status: 'invited' };
}

/** At most three "a company wanted to add you" notices a day per address: no inbox flooding. */
const TAKEN_ADDRESS_NOTICES = {
  maxFailures: 3,
  lockoutStepMs: 24 * 3600_000,
  lockoutMaxMs: 24 * 3600_000,
  failureResetMs: 24 * 3600_000,
};

/** A main account named an address that already has an account: its owner is told, nothing changes. */
async function addressTaken(caller: Caller, org: OrganizationDoc, emailLower: string): Promise<void> {
  const owner = (await User.findOne({ emailLower }).lean()) as UserDoc | null;
  const noticeKey = `invite-known:${emailLower}`;
  if (owner && owner.role === 'customer' && !(await throttle.lockedUntil(noticeKey))) {
    await throttle.recordFailure(noticeKey, TAKEN_ADDRESS_NOTICES);
    await mail.send({
      to: owner.email,
      lang: owner.language as UserLanguage,
      kind: 'invite_address_taken',
      params: { organization: org.name },
    });
  }
  await audit.record({
    action: 'subaccount.address_taken',
    outcome: 'failure',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: emailLower,
  });
}

/**
 * Changes a sub-account: name, redirect, status (active/disabled) and rights. Changing rights asks
 * for the caller's password again. Disabling ends the sub-account's sessions at once.
 */
export async function updateSubAccount(
  caller: Caller,
  userId: string,
  input: {
    name?: string | undefined;
    rights?: string[] | undefined;
    redirectToMain?: boolean | undefined;
    status?: 'active' | 'disabled' | undefined;
    password?: string | undefined;
  },
): Promise<MemberView> {
  const target = await loadManagedUser(caller, userId);
  if (target.accountType !== 'sub') throw new Forbidden('forbidden');
  const set: Record<string, unknown> = {};
  if (input.name !== undefined) set.name = input.name.trim();
  if (input.redirectToMain !== undefined) {
    if (input.redirectToMain && !target.redirectToMain)
      await assertMayRedirect(target.emailLower, target.organizationId ?? '');
    set.redirectToMain = input.redirectToMain;
  }
  if (input.rights !== undefined) {
    set.rights = checkRights(input.rights);
    if (!input.password) throw new Invalid('current_password_wrong');
    await reauthenticate(caller, input.password);
  }
  if (input.status !== undefined) {
    if (target.status === 'pending' && input.status === 'active') throw new Invalid('account_pending');
    set.status = input.status;
  }
  const updated = (await User.findOneAndUpdate(
    { _id: target._id },
    { $set: set },
    { new: true },
  ).lean()) as UserDoc | null;
  if (!updated) throw new NotFound('user_not_found');
  // Rights and status take effect on the next request of every live session.
  await sessions.refreshUser(userId);
  await audit.record({
    action: 'subaccount.updated',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: target.email,
    details: {
      fields: Object.keys(set).join(','),
      ...(input.rights ? { rights: (set.rights as string[]).join(' ') } : {}),
    },
  });
  return memberView(updated);
}

/** Deletes a sub-account and ends its sessions. */
export async function deleteSubAccount(caller: Caller, userId: string): Promise<void> {
  const target = await loadManagedUser(caller, userId);
  if (target.accountType !== 'sub') throw new Forbidden('forbidden');
  await sessions.endAllForUser(userId, 'revoked');
  await User.deleteOne({ _id: target._id });
  await accountDeleted({ id: String(target._id), email: target.email });
  await audit.record({
    action: 'subaccount.deleted',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: target.email,
  });
}

/** Creates the collection's indexes and brings older data up to date. */
export async function init(): Promise<void> {
  await Organization.createIndexes();
  await runOnce('2026-12-invited-addresses-proven', proveAcceptedInvitations);
}

/**
 * Sub-accounts that accepted an invitation before addresses were marked proven: the link went to
 * the address itself unless the account's mail was redirected, so those addresses are proven.
 * Redirected ones stay unproven until a code or link reaches them.
 */
async function proveAcceptedInvitations(): Promise<void> {
  await User.updateMany(
    {
      accountType: 'sub',
      status: { $ne: 'pending' },
      redirectToMain: { $ne: true },
      passwordHash: { $exists: true },
      emailVerifiedAt: { $exists: false },
      emailLower: { $not: /\.invalid$/ },
    },
    { $set: { emailVerifiedAt: new Date() } },
  );
}

/**
 * The organization an operator confirmed a domain for (undefined for any other domain). Area 2
 * is shared only within such a domain.
 */
export async function organizationOfDomain(domain: string): Promise<{ id: string; name: string } | undefined> {
  const clean = domain.trim().toLowerCase();
  if (!clean || isPublicMailDomain(clean)) return undefined;
  const org = await Organization.findOne({ 'domains.domain': clean }, { name: 1 }).lean();
  return org ? { id: String(org._id), name: org.name } : undefined;
}

/** An organization's name by id (undefined for an unknown or malformed id). */
export async function organizationName(organizationId: string): Promise<string | undefined> {
  if (!isObjectId(organizationId)) return undefined;
  const org = await Organization.findById(organizationId, { name: 1 }).lean();
  return org?.name;
}
