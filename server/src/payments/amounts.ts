/** An invoice line as the sums need it (quantity in thousandths, prices in cents). */
export interface Line {
  quantity: number;
  unitNetCents: number;
  vatRate: number;
}

/** The net, VAT and gross of one VAT rate. */
export interface VatLine {
  rate: number;
  netCents: number;
  vatCents: number;
}

/** What an invoice adds up to: per rate and in all. */
export interface Totals {
  vat: VatLine[];
  netCents: number;
  vatCents: number;
  grossCents: number;
}

/** A line's net: quantity in thousandths times the unit price, rounded to the cent. */
export function lineNetCents(item: Pick<Line, 'quantity' | 'unitNetCents'>): number {
  return Math.round((item.quantity * item.unitNetCents) / 1000);
}

/**
 * Adds up an invoice. VAT is computed once per rate on the rate's net sum (not per line), the
 * usual German practice, so the printed rate lines multiply out exactly.
 */
export function totals(items: readonly Line[]): Totals {
  const byRate = new Map<number, number>();
  for (const item of items) byRate.set(item.vatRate, (byRate.get(item.vatRate) ?? 0) + lineNetCents(item));
  const vat = [...byRate]
    .sort(([a], [b]) => b - a)
    .map(([rate, netCents]) => ({ rate, netCents, vatCents: Math.round((netCents * rate) / 100) }));
  const netCents = vat.reduce((sum, l) => sum + l.netCents, 0);
  const vatCents = vat.reduce((sum, l) => sum + l.vatCents, 0);
  return { vat, netCents, vatCents, grossCents: netCents + vatCents };
}

/** Cents as people read euros: "1.234,50 €" (de) or "€1,234.50" (en). */
export function formatEuro(cents: number, lang: 'de' | 'en' = 'de'): string {
  return new Intl.NumberFormat(lang === 'de' ? 'de-DE' : 'en-GB', { style: 'currency', currency: 'EUR' }).format(
    cents / 100,
  );
}

/** A quantity in thousandths as people write it: 1500 → "1,5". */
export function formatQuantity(thousandths: number, lang: 'de' | 'en' = 'de'): string {
  return new Intl.NumberFormat(lang === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: 3 }).format(
    thousandths / 1000,
  );
}

/** A calendar date (YYYY-MM-DD) as people write it: 25.11.2026. */
export function formatDay(day: string, lang: 'de' | 'en' = 'de'): string {
  const [y, m, d] = day.split('-');
  return lang === 'de' ? `${d}.${m}.${y}` : `${d}/${m}/${y}`;
}

/** Today (or `at`) as YYYY-MM-DD in a time zone. */
export function dayIn(timeZone: string, at: Date = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** A YYYY-MM-DD date plus whole days. */
export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}
