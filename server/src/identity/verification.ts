import { Invalid } from '../errors.js';
import { hashToken, hmacSecret, randomCode, randomToken, sameHash } from '../crypto/tokens.js';
import { oneAtATime } from '../db/one-at-a-time.js';
import { Verification, type VerificationPurpose } from './verification-model.js';

export type { VerificationPurpose };

/** A code is valid this long (15 minutes: enough to switch to the mail client and back). */
export const CODE_TTL_MS = 15 * 60_000;
/** Wrong codes allowed per verification before it is dead. */
export const MAX_CODE_ATTEMPTS = 5;
/** After verifying, the person has this long to choose a password. */
const SETUP_TTL_MS = 30 * 60_000;
/** At most this many codes per address and purpose within an hour, so nobody floods an inbox. */
const MAX_SENDS_PER_HOUR = 5;

let codeKey: Buffer | undefined;

/** Sets the key that codes are hashed under (derived from the master key at start-up). */
export function setCodeKey(key: Buffer): void {
  codeKey = key;
}

function hashCode(purpose: string, emailLower: string, code: string): string {
  if (!codeKey) throw new Error('verification code key not set');
  return hmacSecret(codeKey, `${purpose}:${emailLower}`, code);
}

/** A fresh verification: the code to mail (when asked for) and the link token. */
export interface IssuedVerification {
  code?: string;
  linkToken: string;
}

/**
 * Issues a code and link for an address and purpose; earlier ones for the same address and purpose
 * stop working. Returns undefined when the address already got too many within the hour.
 */
export async function issue(options: {
  purpose: VerificationPurpose;
  emailLower: string;
  withCode: boolean;
  ttlMs?: number;
  /** The mail goes to the address itself (not redirected), so using it proves the address. */
  direct?: boolean;
}): Promise<IssuedVerification | undefined> {
  const now = new Date();
  if (options.emailLower) {
    const recent = await Verification.countDocuments({
      purpose: options.purpose,
      emailLower: options.emailLower,
      createdAt: { $gt: new Date(now.getTime() - 3600_000) },
    });
    if (recent >= MAX_SENDS_PER_HOUR) return undefined;
  }
  await Verification.updateMany(
    {
      purpose: options.purpose,
      emailLower: options.emailLower,
      verifiedAt: { $exists: false },
      expiresAt: { $gt: now },
    },
    { $set: { expiresAt: now } },
  );
  const code = options.withCode ? randomCode() : undefined;
  const linkToken = randomToken();
  await Verification.create({
    purpose: options.purpose,
    emailLower: options.emailLower,
    ...(code ? { codeHash: hashCode(options.purpose, options.emailLower, code) } : {}),
    linkHash: hashToken(linkToken),
    expiresAt: new Date(now.getTime() + (options.ttlMs ?? CODE_TTL_MS)),
    ...(options.direct ? { direct: true } : {}),
    createdAt: now,
  });
  return code ? { code, linkToken } : { linkToken };
}

/** What a successful verification yields: who proved what, and the token to set a password with. */
export interface Verified {
  purpose: VerificationPurpose;
  emailLower: string;
  setupToken: string;
  /** The code or link was mailed to the address itself: whoever used it reads that mailbox. */
  provesAddress: boolean;
}

async function markVerified(
  id: unknown,
  purpose: VerificationPurpose,
  emailLower: string,
  direct: boolean | null | undefined,
): Promise<Verified> {
  const setupToken = randomToken();
  const now = new Date();
  // Conditional on not yet verified, and queued: two racing requests cannot both use one code.
  const result = await oneAtATime(`verification:${String(id)}`, () =>
    Verification.updateOne(
      { _id: id, verifiedAt: { $exists: false } },
      {
        $set: {
          verifiedAt: now,
          setupHash: hashToken(setupToken),
          setupExpiresAt: new Date(now.getTime() + SETUP_TTL_MS),
        },
      },
    ),
  );
  if (result.modifiedCount !== 1) throw new Invalid('code_invalid');
  return { purpose, emailLower, setupToken, provesAddress: direct === true };
}

/**
 * Checks a typed code. Every attempt is counted against the verification before the code is
 * compared (one conditional write, queued per verification), so codes sent at once cannot all be compared: after
 * {@link MAX_CODE_ATTEMPTS} it is dead, the right code included, and a new one must be requested.
 */
export async function verifyCode(purpose: VerificationPurpose, emailLower: string, code: string): Promise<Verified> {
  const now = new Date();
  const live = {
    purpose,
    emailLower,
    codeHash: { $exists: true },
    verifiedAt: { $exists: false },
    expiresAt: { $gt: now },
  };
  const newest = await Verification.findOne(live, { _id: 1 }).sort({ createdAt: -1 }).lean();
  if (!newest) throw new Invalid('code_invalid');
  const doc = await oneAtATime(`verification:${String(newest._id)}`, () =>
    Verification.findOneAndUpdate(
      { ...live, _id: newest._id, attempts: { $lt: MAX_CODE_ATTEMPTS } },
      { $inc: { attempts: 1 } },
      { new: true },
    ).lean(),
  );
  // Used up by earlier attempts, or by the ones in flight with this one.
  if (!doc) throw new Invalid('code_exhausted');
  if (!sameHash(doc.codeHash ?? '', hashCode(purpose, emailLower, code))) {
    throw new Invalid(doc.attempts >= MAX_CODE_ATTEMPTS ? 'code_exhausted' : 'code_invalid');
  }
  return markVerified(doc._id, purpose, emailLower, doc.direct);
}

/** Checks a link token (from the mail or the console). */
export async function verifyLink(token: string, purposes: readonly VerificationPurpose[]): Promise<Verified> {
  const doc = await Verification.findOne({
    linkHash: hashToken(token),
    purpose: { $in: purposes },
    verifiedAt: { $exists: false },
    expiresAt: { $gt: new Date() },
  }).lean();
  if (!doc) throw new Invalid('link_invalid');
  return markVerified(doc._id, doc.purpose as VerificationPurpose, doc.emailLower ?? '', doc.direct);
}

/** True when a link token is still usable, without using it (to show the right form). */
export async function peekLink(
  token: string,
  purpose: VerificationPurpose,
): Promise<{ emailLower: string } | undefined> {
  const doc = await Verification.findOne({
    linkHash: hashToken(token),
    purpose,
    verifiedAt: { $exists: false },
    expiresAt: { $gt: new Date() },
  }).lean();
  return doc ? { emailLower: doc.emailLower ?? '' } : undefined;
}

/**
 * Uses up a set-up token once. `check` runs first (e.g. the password policy) and may throw: then
 * the token stays usable, so a refused password does not cost the person their verification.
 */
export async function consumeSetup(
  setupToken: string,
  purposes: readonly VerificationPurpose[],
  check: (emailLower: string, purpose: VerificationPurpose) => Promise<void> | void,
): Promise<{ purpose: VerificationPurpose; emailLower: string }> {
  const now = new Date();
  const filter = {
    setupHash: hashToken(setupToken),
    purpose: { $in: purposes },
    consumedAt: { $exists: false },
    setupExpiresAt: { $gt: now },
  };
  const doc = await Verification.findOne(filter).lean();
  if (!doc) throw new Invalid('setup_invalid');
  await check(doc.emailLower ?? '', doc.purpose as VerificationPurpose);
  const result = await Verification.updateOne({ ...filter, _id: doc._id }, { $set: { consumedAt: now } });
  if (result.modifiedCount !== 1) throw new Invalid('setup_invalid');
  return { purpose: doc.purpose as VerificationPurpose, emailLower: doc.emailLower ?? '' };
}

/** Ends every unused code and link of an address for a purpose (a refused invitation). */
export async function cancel(purpose: VerificationPurpose, emailLower: string): Promise<void> {
  const now = new Date();
  await Verification.updateMany(
    { purpose, emailLower, verifiedAt: { $exists: false }, expiresAt: { $gt: now } },
    { $set: { expiresAt: now } },
  );
}

/** Creates the collection's indexes. */
export async function init(): Promise<void> {
  await Verification.createIndexes();
}
