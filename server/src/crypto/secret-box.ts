import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deriveKey } from './tokens.js';

/**
 * Secrets at rest (depot keys, PINs, payment credentials): AES-256-GCM under a key derived from the
 * master key. The stored text names its key id, so the master key can be rotated later: decrypt
 * with the id's key, re-encrypt with the current one.
 *
 * Format: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts).
 */
export interface SecretBox {
  seal(plaintext: Uint8Array, context: string): string;
  open(sealed: string, context: string): Buffer;
}

/** The id of the master key in use; a rotation adds the next one. */
export const CURRENT_KEY_ID = 'm1';

/**
 * A box for one master key. `context` binds a secret to what it belongs to (e.g. `depot:<id>:key:1`)
 * as additional data, so a stored secret copied to another record does not decrypt.
 */
export function createSecretBox(masterKey: Buffer): SecretBox {
  const key = deriveKey(masterKey, 'secrets-at-rest');
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return [
        'v1',
        CURRENT_KEY_ID,
        iv.toString('base64url'),
        ciphertext.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
      ].join('.');
    },
    open(sealed, context) {
      const [version, keyId, iv, ciphertext, tag] = sealed.split('.');
      if (version !== 'v1' || keyId !== CURRENT_KEY_ID || !iv || ciphertext === undefined || !tag)
        throw new Error('unknown secret format or key id');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    },
  };
}
