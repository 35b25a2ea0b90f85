import PDFDocument from 'pdfkit';
import type { ExportColumn } from './csv.js';

/** How much finished PDF may wait for a slow reader before the rows pause (constant memory). */
const BUFFERED_BYTES = 1024 * 1024;
const MARGIN = 36;
const ROW_HEIGHT = 14;
const FONT_SIZE = 8;

/** What heads an exported table: every page its company, title and page number; the first its title block. */
export interface PdfTableHeading {
  /** The operator's company, top left on every page. */
  company: string;
  title: string;
  /**
   * The title block under the title on the first page, label and value per line, in the reader's
   * words: operator, what the table is of, period, filters, when it was made.
   */
  facts: ReadonlyArray<readonly [string, string]>;
  /** "Seite 3 von" / "Page 3 of": the total follows, known only at the end. */
  pageOf: (page: number) => string;
}

/** The room the number of pages takes on every page (written once the last row is out). */
const PAGES_WIDTH_SAMPLE = '00000';
const HEAD_SIZE = 9;

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
  const pages = pageCount(doc);
  let page = 0;
  let y = 0;

  const newPage = (): void => {
    if (page > 0) doc.addPage();
    page += 1;
    doc
      .font('Helvetica-Bold')
      .fontSize(HEAD_SIZE)
      .fillColor('#555555')
      .text(heading.company, MARGIN, MARGIN - 14, { lineBreak: false });
    pages.place(`${heading.pageOf(page)} `, doc.page.width - MARGIN, MARGIN - 14);
    doc
      .fillColor('black')
      .font('Helvetica-Bold')
      .fontSize(14)
      .text(heading.title, MARGIN, MARGIN + 4, { lineBreak: false });
    y = MARGIN + 26;
    if (page === 1 && heading.facts.length) {
      const labelWidth = Math.max(
        ...heading.facts.map(([label]) => doc.font('Helvetica').fontSize(8.5).widthOfString(label)),
      );
      for (const [label, value] of heading.facts) {
        doc.font('Helvetica').fontSize(8.5).fillColor('#555555').text(label, MARGIN, y, { lineBreak: false });
        doc
          .fillColor('black')
          .text(fit(doc, value, usable - labelWidth - 12), MARGIN + labelWidth + 12, y, { lineBreak: false });
        y += 12;
      }
      y += 6;
    }
    y += 4;
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
    pages.write(page);
    doc.end();
  };
  write().catch((err: unknown) => doc.destroy(err as Error));
  return doc;
}

/**
 * "Page 3 of 12" on a streamed PDF: the 12 is not known until the last row. Every page draws the
 * same form XObject where the total goes, and the form's content (the number) is written once at
 * the end: a PDF may define an object after the pages that use it. So the pages stream out as they
 * are made, and memory stays flat however many there are.
 */
function pageCount(doc: PDFKit.PDFDocument): {
  /** Writes `text` (the words before the total) and the total's place, ending at `right`. */
  place(text: string, right: number, top: number): void;
  write(pages: number): void;
} {
  doc.font('Helvetica').fontSize(HEAD_SIZE);
  // pdfkit's own objects for what it does not wrap: the current font and the page's resources.
  const font = (doc as unknown as { _font: { id: string; ref(): PDFKit.PDFKitReference; ascender: number } })._font;
  const room = doc.widthOfString(PAGES_WIDTH_SAMPLE);
  const height = doc.currentLineHeight(true);
  const form = doc.ref({
    Type: 'XObject',
    Subtype: 'Form',
    FormType: 1,
    BBox: [0, -height, room + 2, height],
    Resources: { Font: { [font.id]: font.ref() } },
  });
  const baseline = (font.ascender / 1000) * HEAD_SIZE;
  return {
    place(text, right, top) {
      doc.font('Helvetica').fontSize(HEAD_SIZE);
      const left = right - room;
      doc.text(text, left - doc.widthOfString(text), top, { lineBreak: false });
      // pdfkit draws with y downwards: back to the page's own coordinates, then to the number's baseline.
      const page = doc.page as unknown as { xobjects: Record<string, PDFKit.PDFKitReference>; height: number };
      page.xobjects.KisPages = form;
      doc.save();
      doc.addContent(`1 0 0 -1 0 ${page.height} cm`);
      doc.addContent(`1 0 0 1 ${left.toFixed(2)} ${(page.height - top - baseline).toFixed(2)} cm /KisPages Do`);
      doc.restore();
    },
    write(pages) {
      form.end(`BT /${font.id} ${HEAD_SIZE} Tf 0 0 Td (${pages}) Tj ET`);
    },
  };
}
