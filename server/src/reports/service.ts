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

/**
 * Streams rows as the CSV or PDF the reader asked for. `cell` turns a row's field into text (it
 * formats times and amounts); the rows are read only as fast as the download goes.
 *
 * @example
 * return exportTable(query, { name: 'verlauf', title, subtitle }, columns, rows(), cell);
 */
export function exportTable<R extends Record<string, unknown>>(
  query: ExportQuery,
  meta: { name: string; title: string; subtitle: string },
  columns: ReadonlyArray<TableColumn<R>>,
  rows: AsyncIterable<R>,
  cell: (row: R, key: keyof R & string) => string,
): ExportFile {
  const localized = columns.map((c) => ({ ...c, header: c.header[query.lang] }));
  const stamp = new Date().toISOString().slice(0, 10);
  if (query.format === 'csv') {
    async function* text(): AsyncGenerator<Record<string, string>> {
      for await (const row of rows) {
        const out: Record<string, string> = {};
        for (const c of columns) out[c.key] = cell(row, c.key);
        yield out;
      }
    }
    return {
      fileName: `${meta.name}-${stamp}.csv`,
      contentType: 'text/csv; charset=utf-8',
      body: csvStream(localized as unknown as ExportColumn<Record<string, string>>[], text(), query.delimiter),
    };
  }
  return {
    fileName: `${meta.name}-${stamp}.pdf`,
    contentType: 'application/pdf',
    body: pdfTable(
      {
        company: operatorName,
        title: meta.title,
        subtitle: meta.subtitle,
        pageLabel: query.lang === 'de' ? 'Seite' : 'Page',
      },
      localized,
      rows,
      cell,
    ),
  };
}
