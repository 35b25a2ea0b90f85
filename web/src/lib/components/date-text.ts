/**
 * Dates as people type them in the portal's language, to and from the form a native date field
 * holds (`YYYY-MM-DD`, with a time `YYYY-MM-DDTHH:MM`). A browser's own date field follows the
 * browser's language, not the portal's: an English browser shows 12/05/2026 on a German page.
 */

export type DateLocale = 'de' | 'en';

const pad = (n: number): string => String(n).padStart(2, '0');

/** The separator a language writes dates with: 05.12.2026 in German, 05/12/2026 in (British) English. */
const SEPARATOR: Record<DateLocale, string> = { de: '.', en: '/' };

/** The format to type, shown as the field's placeholder. */
export function datePattern(locale: DateLocale, time: boolean): string {
  const date = locale === 'de' ? 'TT.MM.JJJJ' : 'DD/MM/YYYY';
  return time ? `${date} hh:mm` : date;
}

/** A field's value as the language writes it; empty for an empty or malformed value. */
export function formatDateValue(value: string, locale: DateLocale, time: boolean): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(value);
  if (!match) return '';
  const [, y, m, d, hh, mm] = match;
  const sep = SEPARATOR[locale];
  const date = `${d}${sep}${m}${sep}${y}`;
  return time ? `${date} ${hh ?? '00'}:${mm ?? '00'}` : date;
}

/**
 * What was typed, as a field's value; undefined when it is no real date (31.02.), or has a time
 * where none is asked. Takes day first with `.`, `/` or `-` (5.12.26, 05/12/2026), or ISO
 * (2026-12-05); a missing time is midnight.
 */
export function parseDateText(text: string, time: boolean): string | undefined {
  const trimmed = text.trim();
  let parts: { y: number; m: number; d: number; hh?: number; mm?: number } | undefined;
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2}))?$/.exec(trimmed);
  const local = /^(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})(?:[ ,T]+(\d{1,2})[:.](\d{2}))?$/.exec(trimmed);
  if (iso) {
    parts = { y: Number(iso[1]), m: Number(iso[2]), d: Number(iso[3]) };
    if (iso[4] !== undefined) Object.assign(parts, { hh: Number(iso[4]), mm: Number(iso[5]) });
  } else if (local) {
    const year = Number(local[3]);
    parts = { y: local[3]?.length === 2 ? 2000 + year : year, m: Number(local[2]), d: Number(local[1]) };
    if (local[4] !== undefined) Object.assign(parts, { hh: Number(local[4]), mm: Number(local[5]) });
  }
  if (!parts) return undefined;
  const { y, m, d, hh, mm } = parts;
  const probe = new Date(Date.UTC(y, m - 1, d));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== m - 1 || probe.getUTCDate() !== d) return undefined;
  const date = `${String(y).padStart(4, '0')}-${pad(m)}-${pad(d)}`;
  if (!time) return hh === undefined ? date : undefined;
  if (hh === undefined || mm === undefined) return `${date}T00:00`;
  if (hh > 23 || mm > 59) return undefined;
  return `${date}T${pad(hh)}:${pad(mm)}`;
}
