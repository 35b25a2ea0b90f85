import { Organization } from './organization-model.js';
import { accountDeleted, toPublicUser } from './service.js';
import type { UserDoc } from './user-model.js';
import { Session } from './session-model.js';
import * as sessions from './sessions.js';
import { Throttle } from './throttle-model.js';
import { User } from './user-model.js';
import * as verification from './verification.js';
import { Verification } from './verification-model.js';
import { containsText } from '../db/query.js';

/**
 * What identity holds of a person, for their data export and their erasure. What identity erases of a person: the account and everything hanging on it (sessions, codes,
 * throttle records), after which the other modules' clean-ups for deleted accounts run
 * ({@link accountDeleted}). Called by the privacy module only.
 */

/** The account behind an address, if any: privacy needs its id to find what else is theirs. */
export async function accountOf(
  email: string,
): Promise<{ id: string; email: string; name: string; organizationId: string | null } | undefined> {
  const user = await User.findOne({ emailLower: email.trim().toLowerCase() }).lean();
  if (!user) return undefined;
  return {
    id: String(user._id),
    email: user.email,
    name: user.name ?? '',
    organizationId: user.organizationId ?? null,
  };
}

/** Blocks an account while its erasure waits (no new logins, sessions ended). */
export async function suspendForErasure(userId: string): Promise<void> {
  await User.updateOne({ _id: userId }, { $set: { status: 'disabled' } });
  await sessions.endAllForUser(userId, 'revoked');
}

/**
 * Deletes the account of `email` (if any) with its sessions, verification codes and throttle
 * records, then runs the modules' clean-ups for deleted accounts. A company whose main account this
 * was keeps its data; its main account shows as the pseudonym until an operator names a new one.
 */
export async function eraseAccount(
  email: string,
  pseudonym: string,
): Promise<{ account: number; sessions: number; codes: number; throttles: number }> {
  const emailLower = email.trim().toLowerCase();
  const user = await User.findOne({ emailLower }).lean();
  let sessionCount = 0;
  if (user) {
    const id = String(user._id);
    await sessions.endAllForUser(id, 'revoked');
    sessionCount = (await Session.deleteMany({ userId: id })).deletedCount;
    await Organization.updateMany({ mainUserId: id }, { $set: { mainUserId: `${pseudonym}:${id}` } });
    await User.deleteOne({ _id: user._id });
    await accountDeleted({ id, email: user.email });
  }
  const codes = (await Verification.deleteMany({ emailLower })).deletedCount;
  const throttles = (await Throttle.deleteMany({ key: containsText(emailLower) })).deletedCount;
  return { account: user ? 1 : 0, sessions: sessionCount, codes, throttles };
}

/** The account, its company membership and sessions, for the person's data export. */
export async function accountForExport(userId: string): Promise<Record<string, unknown> | undefined> {
  const user = (await User.findById(userId).lean()) as UserDoc | null;
  if (!user) return undefined;
  const organization = user.organizationId ? await Organization.findById(user.organizationId).lean() : null;
  return {
    account: toPublicUser(user),
    organization: organization
      ? { name: organization.name, accountType: user.accountType ?? null, rights: user.rights ?? [] }
      : null,
    sessions: await sessions.listForUser(userId),
  };
}

/** A code for the public revocation form, for an address (undefined when too many were sent). */
export async function revocationCode(email: string): Promise<string | undefined> {
  const issued = await verification.issue({
    purpose: 'revocation',
    emailLower: email.trim().toLowerCase(),
    withCode: true,
  });
  return issued?.code;
}

/** Checks a revocation code; throws Invalid (code_invalid, code_exhausted) when it does not fit. */
export async function checkRevocationCode(email: string, code: string): Promise<void> {
  await verification.verifyCode('revocation', email.trim().toLowerCase(), code);
}
