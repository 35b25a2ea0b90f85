import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** A random secret of 256 bits in base64url: session ids, CSRF tokens, one-time links. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** A six-digit code for people to type. */
export function randomCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/**
 * SHA-256 of a high-entropy token, for storage: a leaked database does not reveal live session ids
 * or links, and lookups by hash stay exact-match.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/**
 * HMAC of a low-entropy secret (a six-digit code) under a key derived from the master key, so a
 * leaked database alone does not allow guessing codes offline.
 */
export function hmacSecret(key: Buffer, purpose: string, secret: string): string {
  return createHmac('sha256', key).update(`${purpose}\0${secret}`, 'utf8').digest('base64url');
}

/** Compares two hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Derives a purpose-specific key from the master key, so one key never serves two uses. */
export function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  return createHmac('sha256', masterKey).update(`kis:${purpose}`, 'utf8').digest();
}
