import PDFDocument from 'pdfkit';
import type { ExportColumn } from './csv.js';

/** How much finished PDF may wait for a slow reader before the rows pause (constant memory). */
const BUFFERED_BYTES = 1024 * 1024;
const MARGIN = 36;
const ROW_HEIGHT = 14;
const FONT_SIZE = 8;

/** What heads every page of an exported table. */
export interface PdfTableHeading {
  /** The operator's company, top left on every page. */
  company: string;
  title: string;
  /** Filters and the time of the export, in the reader's words. */
  subtitle: string;
  /** "Seite" / "Page". */
  pageLabel: string;
}

/**
 * Resolves when the reader takes data again, or the document closes. Both listeners go when
 * either fires, so a long export on a slow line piles none up.
 */
function flowing(doc: PDFKit.PDFDocument): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      doc.off('data', done);
      doc.off('close', done);
      resolve();
    };
    doc.on('data', done);
    doc.on('close', done);
  });
}

/** Cuts a cell's text to what fits its column in one line, with an ellipsis. */
function fit(doc: PDFKit.PDFDocument, text: string, width: number): string {
  if (doc.widthOfString(text) <= width) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (doc.widthOfString(`${text.slice(0, mid)}…`) <= width) low = mid;
    else high = mid - 1;
  }
  return `${text.slice(0, low)}…`;
}

/**
 * Rows as a PDF table, streamed: A4 landscape, the company and title on every page, a header row,
 * one line per row (long cells end in …), zebra rows and page numbers. The rows are pulled only as
 * fast as the PDF is read, so a million rows need no more memory than a hundred.
 */
export function pdfTable<R extends Record<string, unknown>>(
  heading: PdfTableHeading,
  columns: ReadonlyArray<ExportColumn<R>>,
  rows: AsyncIterable<R>,
  format: (row: R, key: keyof R & string) => string,
): PDFKit.PDFDocument {
  const doc = new PDFDocument({ size: 'A4', layout: 'landscape', margin: MARGIN, info: { Title: heading.title } });
  const usable = doc.page.width - 2 * MARGIN;
  const total = columns.reduce((sum, c) => sum + c.width, 0);
  const widths = columns.map((c) => (c.width / total) * usable);
  let page = 0;
  let y = 0;

  const newPage = (): void => {
    if (page > 0) doc.addPage();
    page += 1;
    doc
      .font('Helvetica-Bold')
      .fontSize(9)
      .fillColor('#555555')
      .text(heading.company, MARGIN, MARGIN - 14, { lineBreak: false });
    doc
      .font('Helvetica')
      .text(`${heading.pageLabel} ${page}`, MARGIN, MARGIN - 14, { width: usable, align: 'right', lineBreak: false });
    doc
      .fillColor('black')
      .font('Helvetica-Bold')
      .fontSize(14)
      .text(heading.title, MARGIN, MARGIN + 4, { lineBreak: false });
    doc
      .font('Helvetica')
      .fontSize(8.5)
      .fillColor('#444444')
      .text(heading.subtitle, MARGIN, MARGIN + 22, { lineBreak: false });
    y = MARGIN + 42;
    doc.rect(MARGIN, y - 3, usable, ROW_HEIGHT).fill('#0f4c5c');
    doc.fillColor('white').font('Helvetica-Bold').fontSize(FONT_SIZE);
    let x = MARGIN;
    columns.forEach((c, i) => {
      const w = widths[i] ?? 0;
      doc.text(fit(doc, c.header, w - 6), x + 3, y, { lineBreak: false });
      x += w;
    });
    doc.fillColor('black').font('Helvetica');
    y += ROW_HEIGHT;
  };

  const write = async (): Promise<void> => {
    newPage();
    let index = 0;
    for await (const row of rows) {
      if (y + ROW_HEIGHT > doc.page.height - MARGIN) newPage();
      if (index % 2 === 1)
        doc
          .rect(MARGIN, y - 3, usable, ROW_HEIGHT)
          .fill('#eef1ef')
          .fillColor('black');
      let x = MARGIN;
      columns.forEach((c, i) => {
        const w = widths[i] ?? 0;
        doc.text(fit(doc, format(row, c.key), w - 6), x + 3, y, { lineBreak: false });
        x += w;
      });
      y += ROW_HEIGHT;
      index += 1;
      // A slow reader: let what is written drain before writing more.
      while (doc.readableLength > BUFFERED_BYTES && !doc.destroyed) await flowing(doc);
      // The reader went away: stop reading rows (the row source closes its cursor).
      if (doc.destroyed) return;
    }
    if (index === 0) doc.fontSize(10).text('—', MARGIN, y);
    doc.end();
  };
  write().catch((err: unknown) => doc.destroy(err as Error));
  return doc;
}
