import { ERROR_CODES } from '@kis/protocol/api';
import { describe, expect, it } from 'vitest';
import { de } from '../../web/src/lib/i18n/de.js';
import { en } from '../../web/src/lib/i18n/en.js';

describe('error texts', () => {
  it('has a German and an English sentence for every code the server answers with', () => {
    for (const code of ERROR_CODES) {
      for (const t of [de, en]) {
        expect(Object.hasOwn(t.errors, code), code).toBe(true);
        const entry = (t.errors as Record<string, unknown>)[code];
        const text = typeof entry === 'function' ? String((entry as (n: number) => string)(2)) : entry;
        expect(typeof text, code).toBe('string');
        expect(text, code).not.toContain(code);
      }
    }
  });
});
