import type { Readable } from 'node:stream';
import type { ExportQuery } from '@kis/protocol/api';
import { csvStream, type ExportColumn } from './csv.js';
import { pdfTable } from './pdf.js';

/** The operator's name for the heads of exported pages (KIS_OPERATOR_NAME). */
let operatorName = 'KIS';

export function init(options: { operatorName: string }): void {
  operatorName = options.operatorName;
}

/** A finished export, ready to stream as a download. */
export interface ExportFile {
  fileName: string;
  contentType: string;
  body: Readable | NodeJS.ReadableStream;
  /** How many rows will come, where the export knew before its first row. */
  rows?: number;
}

/** A column of a table export, with its heading in both languages. */
export interface TableColumn<R> extends Omit<ExportColumn<R>, 'header'> {
  header: { de: string; en: string };
}

/** Formatters by kind, language and zone: making one costs far more than using it, per row. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** A date and time in the reader's zone: German or English for PDF, sortable ISO-like for CSV. */
export function formatTime(date: Date, query: Pick<ExportQuery, 'format' | 'lang' | 'tz'>): string {
  const key = `${query.format}|${query.lang}|${query.tz}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter =
      query.format === 'csv'
        ? // sv-SE writes 2026-11-25 03:20:11: sortable, and every spreadsheet reads it as a date.
          new Intl.DateTimeFormat('sv-SE', { timeZone: query.tz, dateStyle: 'short', timeStyle: 'medium' })
        : new Intl.DateTimeFormat(query.lang === 'de' ? 'de-DE' : 'en-GB', {
            timeZone: query.tz,
            dateStyle: 'medium',
            timeStyle: 'medium',
          });
    // Zones are validated, but keep the map small whatever comes.
    if (formatters.size > 200) formatters.clear();
    formatters.set(key, formatter);
  }
  return formatter.format(date);
}

/** A text in both languages the exports speak. */
export interface Bilingual {
  de: string;
  en: string;
}

/** An amount in euro cents as a table cell: written the reader's way (249,90 or 249.90), no symbol. */
export interface MoneyCell {
  cents: number;
}

/** Marks cents as an amount for {@link exportTable}. */
export function money(cents: number): MoneyCell {
  return { cents };
}

const amountFormats = {
  de: new Intl.NumberFormat('de-DE', { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false }),
  en: new Intl.NumberFormat('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false }),
};

function isBilingual(value: unknown): value is Bilingual {
  return typeof value === 'object' && value !== null && 'de' in value && 'en' in value;
}

function isMoney(value: unknown): value is MoneyCell {
  return typeof value === 'object' && value !== null && 'cents' in value && typeof value.cents === 'number';
}

/** What an export is: its file name, title and the filters it was made with. */
export interface TableExport<R> {
  name: string;
  title: Bilingual;
  /** What the table is of (a depot), for the PDF's title block. */
  subject?: { label: Bilingual; value: string } | undefined;
  /** The time range of the rows, for the PDF's title block; absent where the table has none. */
  period?: { from?: Date | undefined; to?: Date | undefined } | undefined;
  /** The filters in effect besides the period; none means all entries. */
  filters: ReadonlyArray<string | Bilingual>;
  columns: ReadonlyArray<TableColumn<R>>;
  /**
   * How many rows will come (X-Export-Rows, for the browser's progress bar). Only where it costs
   * nothing to know: an export that would have to count first (read its rows twice, and send its
   * first byte only after the count) leaves it out, and the browser shows the rows so far.
   */
  total?: number | undefined;
  rows: AsyncIterable<R>;
}

const WORDS = {
  de: {
    operator: 'Betreiber',
    period: 'Zeitraum',
    filters: 'Filter',
    none: 'keine',
    made: 'Erstellt',
    since: 'ab',
    // The end of a period is exclusive (the next midnight of a day range): "bis vor", not "bis".
    until: 'vor',
    between: 'bis vor',
    always: 'gesamter Zeitraum',
  },
  en: {
    operator: 'Operator',
    period: 'Period',
    filters: 'Filters',
    none: 'none',
    made: 'Created',
    since: 'from',
    until: 'before',
    between: 'until before',
    always: 'all time',
  },
} as const;

/** The PDF's title block: operator, what the table is of, period, filters, when it was made. */
function titleBlock<R>(table: TableExport<R>, query: ExportQuery, filters: string): Array<readonly [string, string]> {
  const words = WORDS[query.lang];
  const when = (date: Date): string => formatTime(date, { ...query, format: 'pdf' });
  const facts: Array<readonly [string, string]> = [[words.operator, operatorName]];
  if (table.subject) facts.push([table.subject.label[query.lang], table.subject.value]);
  if (table.period) {
    const { from, to } = table.period;
    const period =
      from && to
        ? `${when(from)} ${words.between} ${when(to)}`
        : from
          ? `${words.since} ${when(from)}`
          : to
            ? `${words.until} ${when(to)}`
            : words.always;
    facts.push([words.period, period]);
  }
  facts.push([words.filters, filters || words.none]);
  facts.push([words.made, `${when(new Date())} (${query.tz})`]);
  return facts;
}

/**
 * Streams rows as the CSV or PDF the reader asked for: headings in their language, times in their
 * zone, the filters and the moment of the export under the title. The rows are read only as fast
 * as the download goes.
 *
 * @example
 * return sendGenerated(reply, exportTable(query, await depots.historyExport(caller, id, filters)));
 */
export function exportTable<R extends Record<string, unknown>>(query: ExportQuery, table: TableExport<R>): ExportFile {
  const lang = query.lang;
  const localized = table.columns.map((c) => ({ ...c, header: c.header[lang] }));
  const cell = (row: R, key: keyof R & string): string => {
    const value = row[key];
    if (value instanceof Date) return formatTime(value, query);
    if (isMoney(value)) return amountFormats[lang].format(value.cents / 100);
    if (isBilingual(value)) return value[lang];
    return String(value ?? '');
  };
  const filters = table.filters.map((f) => (typeof f === 'string' ? f : f[lang])).join(', ');
  const stamp = new Date().toISOString().slice(0, 10);
  const rows = table.rows;
  if (query.format === 'csv') {
    // Amounts go to the CSV as numbers: csvStream writes them the reader's way and, unlike text
    // that begins with `-`, never escapes them as a formula (a refund of -12,50 stays a number).
    // Everything else is text, escaped where a spreadsheet would read a formula.
    async function* text(): AsyncGenerator<Record<string, string | number>> {
      for await (const row of rows) {
        const out: Record<string, string | number> = {};
        for (const c of table.columns) {
          const value = row[c.key];
          out[c.key] = isMoney(value) ? value.cents / 100 : cell(row, c.key);
        }
        yield out;
      }
    }
    return {
      fileName: `${table.name}-${stamp}.csv`,
      contentType: 'text/csv; charset=utf-8',
      body: csvStream(
        localized as unknown as ExportColumn<Record<string, string | number>>[],
        text(),
        query.delimiter,
        (amount) => amountFormats[lang].format(amount),
      ),
      ...(table.total !== undefined ? { rows: table.total } : {}),
    };
  }
  return {
    fileName: `${table.name}-${stamp}.pdf`,
    contentType: 'application/pdf',
    body: pdfTable(
      {
        company: operatorName,
        title: table.title[lang],
        facts: titleBlock(table, query, filters),
        pageOf: (page) => (lang === 'de' ? `Seite ${page} von` : `Page ${page} of`),
      },
      localized,
      rows,
      cell,
    ),
    ...(table.total !== undefined ? { rows: table.total } : {}),
  };
}
