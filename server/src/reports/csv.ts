import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';

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
 * line, fields quoted where needed. Pulls the next rows only when the reader wants more, so an
 * export of millions of rows runs in constant memory.
 *
 * @example
 * reply.send(csvStream(columns, rows(), ';'));
 */
export function csvStream<R extends Record<string, unknown>>(
  columns: ReadonlyArray<ExportColumn<R>>,
  rows: AsyncIterable<R>,
  delimiter: CsvDelimiter,
): Readable {
  const source = Readable.from(rows, { objectMode: true, highWaterMark: 256 });
  const csv = stringify({
    bom: true,
    header: true,
    delimiter,
    record_delimiter: 'windows',
    columns: columns.map((c) => ({ key: c.key, header: c.header })),
    cast: { date: (d) => d.toISOString(), boolean: (b) => (b ? '1' : '0') },
  });
  source.on('error', (err) => csv.destroy(err));
  return source.pipe(csv);
}
