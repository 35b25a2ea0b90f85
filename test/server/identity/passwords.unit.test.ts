import { describe, expect, it } from 'vitest';
import { Invalid } from '../../../server/src/errors.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../../../server/src/identity/passwords.js';

function refusal(password: string, email?: string): string | undefined {
  try {
    checkPasswordPolicy(password, { email });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(Invalid);
    return (err as Invalid).code;
  }
}

describe('password policy', () => {
  it('asks for length only, not for composition', () => {
    expect(refusal('elf zeichen')).toBe('password_too_short');
    expect(refusal('zwölf zeiche')).toBeUndefined();
    expect(refusal('alles klein und ohne ziffern')).toBeUndefined();
    // Code points, not bytes: twelve umlauts are twelve characters.
    expect(refusal('äöüäöüäöüäöü')).toBeUndefined();
    expect(refusal('x'.repeat(257))).toBe('password_too_long');
  });

  it('refuses common and breached passwords, also with digits tacked on', () => {
    expect(refusal('qwertyuiop123')).toBe('password_common');
    expect(refusal('1qaz2wsx3edc')).toBe('password_common');
    expect(refusal('Passwort1234')).toBe('password_common');
    expect(refusal('sunshine12345!')).toBe('password_common');
  });

  it('refuses the address or the portal name as the password', () => {
    expect(refusal('erika.muster2024', 'erika.muster@firma.example')).toBe('password_context');
    expect(refusal('Kundenportal123')).toBe('password_context');
  });
});

describe('password hashing', () => {
  it('verifies the right password and counts every character of a long passphrase', async () => {
    const long = `${'a'.repeat(80)}-ende`;
    const hash = await hashPassword(long, 4);
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await verifyPassword(long, hash, 4)).toBe(true);
    // bcrypt alone would ignore everything after 72 bytes; the pre-hash does not.
    expect(await verifyPassword(`${'a'.repeat(80)}-anders`, hash, 4)).toBe(false);
    expect(await verifyPassword('anything at all', undefined, 4)).toBe(false);
  });
});
