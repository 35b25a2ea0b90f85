/**
 * Money and quantities as people type and read them. The API speaks euro cents and thousandths
 * of a unit (integers); people type "189,00" or "189.00" and "4,5".
 */

/** Parses a typed amount ("1.234,50", "1234.5", "12") into cents; undefined when it is not one. */
export function parseCents(text: string): number | undefined {
  const value = parseDecimal(text, 2);
  return value === undefined ? undefined : value;
}

/** Parses a typed quantity ("4,5") into thousandths; undefined when it is not one. */
export function parseThousandths(text: string): number | undefined {
  return parseDecimal(text, 3);
}

function parseDecimal(text: string, places: number): number | undefined {
  const t = text.trim().replace(/\s|€/g, '');
  if (!t) return undefined;
  // The last , or . followed by 1..places digits is the decimal mark; other marks group thousands.
  const match = new RegExp(`^([0-9.,]*?)(?:[.,]([0-9]{1,${places}}))?$`).exec(t);
  if (!match) return undefined;
  const grouped = match[1] ?? '';
  // Thousands marks only between groups of three, and only with a decimal part: "12,345" could be
  // 12.345 € or 12,35 € mistyped, so it is refused rather than guessed.
  if (/[.,]/.test(grouped) && (match[2] === undefined || !/^[0-9]{1,3}([.,][0-9]{3})+$/.test(grouped)))
    return undefined;
  const whole = grouped.replace(/[.,]/g, '');
  if (!/^[0-9]*$/.test(whole) || (whole === '' && !match[2])) return undefined;
  const fraction = (match[2] ?? '').padEnd(places, '0');
  return Number(whole || '0') * 10 ** places + Number(fraction || '0');
}

/** Cents as the reader's locale writes euros. */
export function formatCents(cents: number, locale: string): string {
  return new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(cents / 100);
}

/** Thousandths as the reader's locale writes a number. */
export function formatThousandths(value: number, locale: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 3 }).format(value / 1000);
}

/** Cents as an input shows them for editing: "189,00" (de) or "189.00" (en). */
export function centsForInput(cents: number, locale: string): string {
  return new Intl.NumberFormat(locale, { minimumFractionDigits: 2, useGrouping: false }).format(cents / 100);
}

/** Thousandths for editing: "4,5". */
export function thousandthsForInput(value: number, locale: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 3, useGrouping: false }).format(value / 1000);
}

/** A calendar day (YYYY-MM-DD) in the reader's locale, without time-zone shifts. */
export function formatDay(day: string, locale: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(
    Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1),
  );
}
