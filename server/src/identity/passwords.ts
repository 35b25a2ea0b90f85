import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';
import { dictionary } from '@zxcvbn-ts/language-common';
import { Invalid } from '../errors.js';

/** ASVS V2.1.1: at least 12 characters; V2.1.2: at least 64 allowed (we allow 256). */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

/** Words that make a password guessable in this portal in particular. */
const CONTEXT_WORDS = [
  'kis',
  'kundenportal',
  'customerportal',
  'schluesseldepot',
  'schlüsseldepot',
  'passwort',
  'password',
];

/** Extra German entries the list lacks, all long enough to pass the length rule. */
const GERMAN_COMMON = [
  'passwort1234',
  'passwort12345',
  'hallohallo12',
  'hallo1234567',
  'schatz123456',
  'sommer2024!!',
  'winter2024!!',
  'qwertzuiop12',
  '123456789qwertz',
];

let common: ReadonlySet<string> | undefined;

/** The shipped list of common and breached passwords (zxcvbn's, about 49 000 entries), lower-cased. */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set([...dictionary['passwords-common'], ...GERMAN_COMMON].map((p) => p.toLowerCase()));
  return common;
}

/**
 * Checks a new password against ASVS 4.0.3 V2.1: length only, no composition rules, not on the
 * list of common passwords, not built from the user's address or the portal's name.
 * Throws {@link Invalid} with a code the web translates.
 */
export function checkPasswordPolicy(password: string, context: { email?: string | undefined } = {}): void {
  // Length in code points: "ä" is one character to the user (ASVS 2.1.4 allows any Unicode).
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) throw new Invalid('password_too_short');
  if (length > MAX_PASSWORD_LENGTH) throw new Invalid('password_too_long');
  const lower = password.normalize('NFKC').toLowerCase();
  if (commonPasswords().has(lower)) throw new Invalid('password_common');
  // A common password with digits or a "!" tacked on is no stronger.
  const stripped = lower.replace(/[\d!?.]+$/, '');
  if (stripped.length >= 6 && commonPasswords().has(stripped)) throw new Invalid('password_common');
  const letters = (s: string): string => s.replace(/[^\p{L}\p{N}]/gu, '');
  const words = [...CONTEXT_WORDS];
  const local = letters(context.email?.split('@')[0]?.toLowerCase() ?? '');
  if (local.length >= 4) words.push(local);
  const core = letters(lower);
  if (words.some((w) => core === w || (core.startsWith(w) && /^\d*$/.test(core.slice(w.length))))) {
    throw new Invalid('password_context');
  }
}

/**
 * bcrypt reads only 72 bytes; hashing the password with SHA-256 first lets long passphrases count
 * in full. The digest is base64 (44 bytes, no NUL bytes that bcrypt would stop at).
 */
function prehash(password: string): string {
  return createHash('sha256').update(password.normalize('NFKC'), 'utf8').digest('base64');
}

/** Hashes a password with bcrypt at the configured cost. */
export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(prehash(password), cost);
}

/** A hash of no password, so that a login for an unknown address takes as long as a real one. */
let dummyHash: Promise<string> | undefined;

/**
 * Compares a password with a stored hash; with no hash, compares against a dummy so that the time
 * taken does not tell whether the account exists.
 */
export async function verifyPassword(
  password: string,
  hash: string | undefined | null,
  cost: number,
): Promise<boolean> {
  if (!hash) {
    dummyHash ??= bcrypt.hash('no account has this password', cost);
    await bcrypt.compare(prehash(password), await dummyHash);
    return false;
  }
  return bcrypt.compare(prehash(password), hash);
}
