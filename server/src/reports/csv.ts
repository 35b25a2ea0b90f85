import { PassThrough, Readable } from 'node:stream';
import { stringify, type Options } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';

/** The column separators people choose: `;` for German Excel, `,` for everything else. */
export const CSV_DELIMITERS = [';', ','] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

/** A column of an export: the key in each row and the heading people read. */
export interface ExportColumn<R> {
  key: keyof R & string;
  header: string;
  /** Share of the PDF table's width (the CSV ignores it). */
  width: number;
}

/**
 * Rows as CSV, streamed: UTF-8 with a byte-order mark (so Excel reads umlauts right), a heading
 * line, fields quoted where needed (also where they hold a line break of any kind). Pulls the next
 * rows only when the reader wants more, so an export of millions of rows runs in constant memory.
 *
 * Every export goes through here, and here every text cell that a spreadsheet would take for a
 * formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage return, or their full-width
 * forms) gets a leading `'`, as OWASP advises against CSV injection: names, e-mail addresses and
 * notes come from people, some of them not signed in (the login form's e-mail lands in the audit
 * log). Cells given as numbers are the exception: the export code made them itself, they cannot
 * hold a formula, and a refund of `-12,50` has to stay a number that Excel can add up, so they are
 * written by `formatNumber` (e.g. with a decimal comma) and never escaped.
 *
 * @example
 * reply.send(csvStream(columns, rows(), ';', (n) => n.toFixed(2).replace('.', ',')));
 */
export function csvStream<R extends Record<string, unknown>>(
  columns: ReadonlyArray<ExportColumn<R>>,
  rows: AsyncIterable<R>,
  delimiter: CsvDelimiter,
  formatNumber: (value: number) => string = String,
): Readable {
  const source = Readable.from(rows, { objectMode: true, highWaterMark: 256 });
  const options: Options = {
    delimiter,
    record_delimiter: 'windows',
    // A cell with a line break inside is quoted, whatever the break: left bare, a lone LF or CR
    // ends the row for Excel, and what follows it would start a new row, where a formula is no
    // longer at the start of an escaped cell.
    quote_record_delimiter: true,
    // csv-stringify leaves a leading `-` alone only where the row held a number, which is the rule above.
    escape_formulas: true,
    columns: columns.map((c) => ({ key: c.key, header: c.header })),
    cast: {
      date: (d) => d.toISOString(),
      boolean: (b) => (b ? '1' : '0'),
      number: (n) => formatNumber(n),
    },
  };
  // The byte-order mark and the heading go out at once, before the first row is read: the
  // download starts (and the browser shows it) while the database is still looking for rows,
  // which in an export across depots may take a while when the first ones have none.
  const out = new PassThrough();
  out.write(stringifySync([], { ...options, bom: true, header: true }));
  const csv = stringify({ ...options, bom: false, header: false });
  source.on('error', (err) => csv.destroy(err));
  csv.on('error', (err) => out.destroy(err));
  // Stopping the download (the reader destroys `out`) stops the rows too.
  out.on('close', () => {
    if (!csv.readableEnded) csv.destroy();
    source.destroy();
  });
  return source.pipe(csv).pipe(out);
}
