import { describe, expect, it } from 'vitest';
import { datePattern, formatDateValue, parseDateText } from '../../web/src/lib/components/date-text.js';

describe('dates typed in the portal’s language', () => {
  it('shows a date field’s value the way German and English readers write it', () => {
    expect(formatDateValue('2026-12-05', 'de', false)).toBe('05.12.2026');
    expect(formatDateValue('2026-12-05', 'en', false)).toBe('05/12/2026');
    expect(formatDateValue('2026-12-05T07:30', 'de', true)).toBe('05.12.2026 07:30');
    expect(formatDateValue('', 'de', true)).toBe('');
    expect(datePattern('de', true)).toBe('TT.MM.JJJJ hh:mm');
    expect(datePattern('en', false)).toBe('DD/MM/YYYY');
  });

  it('reads day-first dates, short years and ISO, with or without a time', () => {
    expect(parseDateText('5.12.2026', false)).toBe('2026-12-05');
    expect(parseDateText(' 05/12/26 ', false)).toBe('2026-12-05');
    expect(parseDateText('2026-12-05', false)).toBe('2026-12-05');
    expect(parseDateText('5.12.2026 7:30', true)).toBe('2026-12-05T07:30');
    expect(parseDateText('5.12.2026', true)).toBe('2026-12-05T00:00');
  });

  it('refuses what is no date, and a time where none is asked', () => {
    for (const text of ['31.02.2026', '12/13/2026', '5.12.', 'morgen', '5.12.2026 24:00']) {
      expect(parseDateText(text, true)).toBeUndefined();
    }
    expect(parseDateText('5.12.2026 07:30', false)).toBeUndefined();
  });
});
