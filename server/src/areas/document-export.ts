import PDFDocument from 'pdfkit';
import * as Y from 'yjs';
import { DOCUMENT_FIELD } from './document-schema.js';

/** One run of text with the marks the editor knows. */
interface Run {
  text: string;
  bold: boolean;
  italic: boolean;
  strike: boolean;
  code: boolean;
  href: string | undefined;
}

/** A block of the document, as both exports walk it. */
type Block =
  | { kind: 'paragraph' | 'quote'; runs: Run[] }
  | { kind: 'heading'; level: number; runs: Run[] }
  | { kind: 'code'; text: string }
  | { kind: 'rule' }
  | { kind: 'item'; ordered: boolean; number: number; depth: number; runs: Run[] };

function runsOf(node: Y.XmlElement | Y.XmlText): Run[] {
  const runs: Run[] = [];
  const parts = node instanceof Y.XmlText ? [node] : node.toArray();
  for (const part of parts) {
    if (part instanceof Y.XmlText) {
      for (const op of part.toDelta() as Array<{ insert: unknown; attributes?: Record<string, unknown> }>) {
        if (typeof op.insert !== 'string') continue;
        const a = op.attributes ?? {};
        const link = a.link as { href?: unknown } | undefined;
        runs.push({
          text: op.insert,
          bold: 'bold' in a,
          italic: 'italic' in a,
          strike: 'strike' in a,
          code: 'code' in a,
          href: typeof link?.href === 'string' && /^(https?:|mailto:)/i.test(link.href) ? link.href : undefined,
        });
      }
    } else if (part instanceof Y.XmlElement && part.nodeName === 'hardBreak') {
      runs.push({ text: '\n', bold: false, italic: false, strike: false, code: false, href: undefined });
    }
  }
  return runs;
}

function plain(node: Y.XmlElement): string {
  return runsOf(node)
    .map((r) => r.text)
    .join('');
}

/** The document's blocks in reading order (lists flattened to items with their depth). */
function blocksOf(doc: Y.Doc): Block[] {
  const blocks: Block[] = [];
  const walk = (nodes: ReadonlyArray<Y.XmlElement | Y.XmlText | Y.XmlHook>, depth: number, quote: boolean): void => {
    for (const node of nodes) {
      if (!(node instanceof Y.XmlElement)) continue;
      switch (node.nodeName) {
        case 'heading':
          blocks.push({
            kind: 'heading',
            level: Math.min(6, Math.max(1, Number(node.getAttribute('level')) || 1)),
            runs: runsOf(node),
          });
          break;
        case 'codeBlock':
          blocks.push({ kind: 'code', text: plain(node) });
          break;
        case 'horizontalRule':
          blocks.push({ kind: 'rule' });
          break;
        case 'blockquote':
          walk(node.toArray(), depth, true);
          break;
        case 'bulletList':
        case 'orderedList': {
          const ordered = node.nodeName === 'orderedList';
          let number = Number(node.getAttribute('start')) || 1;
          for (const item of node.toArray()) {
            if (!(item instanceof Y.XmlElement)) continue;
            const [first, ...rest] = item.toArray();
            blocks.push({
              kind: 'item',
              ordered,
              number: number++,
              depth,
              runs: first instanceof Y.XmlElement ? runsOf(first) : [],
            });
            walk(rest, depth + 1, quote);
          }
          break;
        }
        default:
          blocks.push({ kind: quote ? 'quote' : 'paragraph', runs: runsOf(node) });
      }
    }
  };
  walk(doc.getXmlFragment(DOCUMENT_FIELD).toArray(), 0, false);
  return blocks;
}

/** Escapes what Markdown would read as markup. */
function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>])/g, '\\$1');
}

function runsToMarkdown(runs: Run[]): string {
  return runs
    .map((r) => {
      if (r.text === '\n') return '  \n';
      let t = r.code ? `\`${r.text.replace(/`/g, "'")}\`` : escapeMarkdown(r.text);
      if (r.bold) t = `**${t}**`;
      if (r.italic) t = `*${t}*`;
      if (r.strike) t = `~~${t}~~`;
      if (r.href) t = `[${t}](${r.href.replace(/[()\s]/g, encodeURIComponent)})`;
      return t;
    })
    .join('');
}

/** A text as Markdown: headings, emphasis, lists, quotes, code and links as the editor has them. */
export function toMarkdown(title: string, state: Uint8Array): string {
  const doc = new Y.Doc();
  try {
    Y.applyUpdate(doc, state);
    const lines: string[] = [`# ${escapeMarkdown(title)}`, ''];
    for (const block of blocksOf(doc)) {
      switch (block.kind) {
        case 'heading':
          lines.push(`${'#'.repeat(Math.min(6, block.level + 1))} ${runsToMarkdown(block.runs)}`, '');
          break;
        case 'code':
          lines.push('```', block.text, '```', '');
          break;
        case 'rule':
          lines.push('---', '');
          break;
        case 'quote':
          lines.push(`> ${runsToMarkdown(block.runs)}`, '');
          break;
        case 'item':
          lines.push(
            `${'  '.repeat(block.depth)}${block.ordered ? `${block.number}.` : '-'} ${runsToMarkdown(block.runs)}`,
          );
          break;
        default:
          lines.push(runsToMarkdown(block.runs), '');
      }
    }
    return `${lines
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim()}\n`;
  } finally {
    doc.destroy();
  }
}

const FONTS = {
  regular: 'Helvetica',
  bold: 'Helvetica-Bold',
  italic: 'Helvetica-Oblique',
  boldItalic: 'Helvetica-BoldOblique',
  code: 'Courier',
} as const;

function fontOf(run: Run): string {
  if (run.code) return FONTS.code;
  if (run.bold && run.italic) return FONTS.boldItalic;
  if (run.bold) return FONTS.bold;
  if (run.italic) return FONTS.italic;
  return FONTS.regular;
}

/**
 * A text as an A4 PDF, streamed as it is written: the title, then the blocks with their marks.
 * The standard PDF fonts cover German (Windows-1252), which is what the portal's texts are in.
 */
export function toPdf(
  title: string,
  state: Uint8Array,
  meta: { author: string; exportedAt: string },
): NodeJS.ReadableStream {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, state);
  const blocks = blocksOf(doc);
  doc.destroy();
  const pdf = new PDFDocument({ size: 'A4', margin: 56, info: { Title: title, Author: meta.author } });
  pdf.font(FONTS.bold).fontSize(20).text(title);
  pdf.moveDown(0.3).font(FONTS.regular).fontSize(9).fillColor('#555555').text(meta.exportedAt).fillColor('black');
  pdf.moveDown();
  const writeRuns = (runs: Run[], size: number, options: PDFKit.Mixins.TextOptions = {}): void => {
    pdf.fontSize(size);
    if (!runs.length) {
      pdf.font(FONTS.regular).text(' ', options);
      return;
    }
    runs.forEach((run, i) => {
      pdf.font(fontOf(run)).fillColor(run.href ? '#0f4c5c' : 'black');
      pdf.text(run.text, {
        ...options,
        continued: i < runs.length - 1,
        strike: run.strike,
        underline: run.href !== undefined,
        ...(run.href ? { link: run.href } : { link: null }),
      });
    });
    pdf.fillColor('black');
  };
  for (const block of blocks) {
    switch (block.kind) {
      case 'heading':
        pdf.moveDown(0.4);
        writeRuns(
          block.runs.map((r) => ({ ...r, bold: true })),
          [16, 14, 12.5, 11.5, 11, 11][block.level - 1] ?? 11,
        );
        pdf.moveDown(0.3);
        break;
      case 'code':
        pdf.font(FONTS.code).fontSize(9.5).text(block.text, { indent: 12 });
        pdf.moveDown(0.5);
        break;
      case 'rule': {
        const y = pdf.y + 4;
        pdf
          .moveTo(pdf.page.margins.left, y)
          .lineTo(pdf.page.width - pdf.page.margins.right, y)
          .strokeColor('#999999')
          .stroke();
        pdf.moveDown();
        break;
      }
      case 'quote':
        pdf.fillColor('#444444');
        writeRuns(block.runs, 11, { indent: 18 });
        pdf.moveDown(0.5);
        break;
      case 'item': {
        const marker = block.ordered ? `${block.number}. ` : '• ';
        writeRuns(
          [{ text: marker, bold: false, italic: false, strike: false, code: false, href: undefined }, ...block.runs],
          11,
          {
            indent: 14 + block.depth * 14,
          },
        );
        pdf.moveDown(0.2);
        break;
      }
      default:
        writeRuns(block.runs, 11);
        pdf.moveDown(0.5);
    }
  }
  pdf.end();
  return pdf;
}
