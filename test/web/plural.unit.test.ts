import { describe, expect, it } from 'vitest';
import { de } from '../../web/src/lib/i18n/de.js';
import { en } from '../../web/src/lib/i18n/en.js';

describe('counts in words', () => {
  it('says one entry in the singular and groups the digits of many, in German and English', () => {
    expect(de.paging.page(1, 1, 1)).toBe('Seite 1 von 1 (1 Eintrag)');
    expect(de.paging.page(1, 1, 0)).toBe('Seite 1 von 1 (0 Einträge)');
    expect(de.paging.page(2, 50, 1234)).toBe('Seite 2 von 50 (1.234 Einträge)');
    expect(en.paging.page(1, 1, 1)).toBe('Page 1 of 1 (1 entry)');
    expect(en.paging.page(2, 50, 1234)).toBe('Page 2 of 50 (1,234 entries)');
  });

  it('writes attempts, seconds and people without "(e)" or "(s)"', () => {
    expect(de.depot.commands.attempts(1)).toBe('1 Versuch');
    expect(de.depot.commands.attempts(3)).toBe('3 Versuche');
    expect(en.depot.commands.attempts(1)).toBe('1 attempt');
    expect(de.session.warning(1)).toContain('in 1 Sekunde wegen');
    expect(en.erasures.confirm(1)).toContain('The data of 1 person will');
    expect(en.erasures.confirm(2)).toContain('The data of 2 people will');
  });
});
