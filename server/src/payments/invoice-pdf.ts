import PDFDocument from 'pdfkit';
import type { Issuer } from '@kis/protocol/api';
import { formatDay, formatEuro, formatQuantity, lineNetCents, totals } from './amounts.js';

/** What an invoice PDF shows: the invoice as issued (issuer and customer as they were then). */
export interface InvoicePrint {
  number: string;
  issuer: Issuer;
  customer: { name: string; email: string; street: string; postalCode: string; city: string; reference: string };
  items: ReadonlyArray<{ description: string; quantity: number; unitNetCents: number; vatRate: number }>;
  issueDate: string;
  serviceDate: string;
  dueDate: string;
  note: string;
  /** Where the key waits, e.g. "Schlüsseldepot Hof, Fach 2". */
  pickup: string | null;
  payUrl: string | null;
  /** Printed across the page when the invoice was cancelled. */
  cancelled: boolean;
}

const TEXT = {
  de: {
    invoice: 'Rechnung',
    number: 'Rechnungsnummer',
    date: 'Rechnungsdatum',
    service: 'Leistungsdatum',
    due: 'Fällig am',
    reference: 'Ihre Referenz',
    taxNumber: 'Steuernummer',
    vatId: 'USt-IdNr.',
    pos: 'Pos.',
    description: 'Leistung',
    quantity: 'Menge',
    unit: 'Einzelpreis netto',
    rate: 'USt',
    amount: 'Betrag netto',
    net: 'Summe netto',
    vatOn: (rate: number, net: string) => `zzgl. ${rate} % USt auf ${net}`,
    gross: 'Gesamtbetrag',
    pickup: 'Abholung',
    pickupNote: 'Nach Eingang der Zahlung erhalten Sie eine PIN für das Fach.',
    pay: (due: string) => `Bitte zahlen Sie bis zum ${due} online mit PayPal:`,
    cancelled: 'STORNIERT',
    page: 'Seite',
  },
  en: {
    invoice: 'Invoice',
    number: 'Invoice number',
    date: 'Invoice date',
    service: 'Date of service',
    due: 'Due on',
    reference: 'Your reference',
    taxNumber: 'Tax number',
    vatId: 'VAT id',
    pos: 'No.',
    description: 'Service',
    quantity: 'Qty',
    unit: 'Unit price net',
    rate: 'VAT',
    amount: 'Amount net',
    net: 'Total net',
    vatOn: (rate: number, net: string) => `plus ${rate} % VAT on ${net}`,
    gross: 'Total',
    pickup: 'Collection',
    pickupNote: 'Once your payment arrives, you get a PIN for the compartment.',
    pay: (due: string) => `Please pay by ${due} online with PayPal:`,
    cancelled: 'CANCELLED',
    page: 'Page',
  },
} as const;

const MARGIN = 56;
const DESCRIPTION_WIDTH = 205;

/**
 * Renders an invoice as an A4 PDF with what §14 (4) UStG asks of it: issuer and recipient with
 * addresses, the issuer's tax number or VAT id, issue date, the sequential number, quantity and
 * kind of each service, the date of service, the net amounts per VAT rate, and each rate with its
 * tax amount. Invoices are short, so the whole PDF is built in memory (a few KB).
 */
export function renderInvoicePdf(invoice: InvoicePrint, lang: 'de' | 'en' = 'de'): Promise<Buffer> {
  const t = TEXT[lang];
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: true,
    info: { Title: `${t.invoice} ${invoice.number}`, Author: invoice.issuer.name },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const right = doc.page.width - MARGIN;
  const width = right - MARGIN;
  const { issuer, customer } = invoice;

  // Sender line and the recipient's address, where a window envelope shows it.
  doc.font('Helvetica-Bold').fontSize(16).text(issuer.name, MARGIN, MARGIN);
  doc
    .font('Helvetica')
    .fontSize(7)
    .fillColor('#555555')
    .text(`${issuer.name} · ${issuer.street} · ${issuer.postalCode} ${issuer.city}`, MARGIN, 130);
  doc.fillColor('#000000').fontSize(10);
  const address = [
    customer.name,
    customer.street,
    [customer.postalCode, customer.city].filter(Boolean).join(' '),
    customer.street ? '' : customer.email,
  ].filter(Boolean);
  doc.text(address.join('\n'), MARGIN, 145, { width: 240 });

  // The invoice's facts, on the right.
  const facts: Array<[string, string]> = [
    [t.number, invoice.number],
    [t.date, formatDay(invoice.issueDate, lang)],
    [t.service, formatDay(invoice.serviceDate, lang)],
    [t.due, formatDay(invoice.dueDate, lang)],
  ];
  if (customer.reference) facts.push([t.reference, customer.reference]);
  if (issuer.taxNumber) facts.push([t.taxNumber, issuer.taxNumber]);
  if (issuer.vatId) facts.push([t.vatId, issuer.vatId]);
  let y = 130;
  for (const [label, value] of facts) {
    doc.font('Helvetica').fontSize(9).text(label, 330, y, { width: 100 });
    doc.font('Helvetica-Bold').text(value, 430, y, { width: right - 430, align: 'right' });
    y += 14;
  }

  y = Math.max(y, 230) + 20;
  doc.font('Helvetica-Bold').fontSize(14).text(`${t.invoice} ${invoice.number}`, MARGIN, y);
  y += 30;

  // Items.
  const cols = [
    { label: t.pos, x: MARGIN, w: 30, align: 'left' as const },
    { label: t.description, x: MARGIN + 30, w: DESCRIPTION_WIDTH, align: 'left' as const },
    { label: t.quantity, x: MARGIN + 235, w: 50, align: 'right' as const },
    { label: t.unit, x: MARGIN + 290, w: 80, align: 'right' as const },
    { label: t.rate, x: MARGIN + 375, w: 35, align: 'right' as const },
    { label: t.amount, x: MARGIN + 413, w: width - 413, align: 'right' as const },
  ];
  doc.rect(MARGIN, y - 3, width, 16).fill('#2f3b4c');
  doc.fillColor('#ffffff').font('Helvetica-Bold').fontSize(8);
  for (const c of cols) doc.text(c.label, c.x + 2, y + 1, { width: c.w - 4, align: c.align, lineBreak: false });
  doc.fillColor('#000000').font('Helvetica').fontSize(9);
  y += 18;
  invoice.items.forEach((item, i) => {
    const cells = [
      String(i + 1),
      item.description,
      formatQuantity(item.quantity, lang),
      formatEuro(item.unitNetCents, lang),
      `${item.vatRate} %`,
      formatEuro(lineNetCents(item), lang),
    ];
    const height = Math.max(12, doc.heightOfString(item.description, { width: DESCRIPTION_WIDTH - 4 }));
    if (y + height > doc.page.height - 140) {
      doc.addPage();
      y = MARGIN;
    }
    cols.forEach((c, k) => doc.text(cells[k] ?? '', c.x + 2, y, { width: c.w - 4, align: c.align }));
    y += height + 6;
  });

  // Totals, per rate (§14 (4) 7 and 8 UStG).
  const sum = totals(invoice.items);
  doc
    .moveTo(MARGIN + 235, y)
    .lineTo(right, y)
    .strokeColor('#999999')
    .stroke();
  y += 6;
  const totalLine = (label: string, value: string, bold = false): void => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(bold ? 10 : 9);
    doc.text(label, MARGIN + 200, y, { width: 210, align: 'right' });
    doc.text(value, MARGIN + 413, y, { width: width - 413 - 2, align: 'right' });
    y += bold ? 16 : 13;
  };
  totalLine(t.net, formatEuro(sum.netCents, lang));
  for (const line of sum.vat)
    totalLine(t.vatOn(line.rate, formatEuro(line.netCents, lang)), formatEuro(line.vatCents, lang));
  totalLine(t.gross, formatEuro(sum.grossCents, lang), true);
  y += 16;

  doc.font('Helvetica').fontSize(9);
  if (invoice.pickup) {
    doc.font('Helvetica-Bold').text(`${t.pickup}: `, MARGIN, y, { continued: true });
    doc.font('Helvetica').text(`${invoice.pickup}. ${t.pickupNote}`, { width });
    y = doc.y + 8;
  }
  if (invoice.payUrl && !invoice.cancelled) {
    doc.text(t.pay(formatDay(invoice.dueDate, lang)), MARGIN, y, { width });
    doc.fillColor('#1a4f9c').text(invoice.payUrl, { width, link: invoice.payUrl, underline: true });
    doc.fillColor('#000000');
    y = doc.y + 8;
  }
  if (invoice.note) doc.text(invoice.note, MARGIN, y, { width });

  if (invoice.cancelled) {
    doc.save();
    doc.rotate(-30, { origin: [doc.page.width / 2, doc.page.height / 2] });
    doc
      .font('Helvetica-Bold')
      .fontSize(72)
      .fillColor('#c0392b')
      .fillOpacity(0.25)
      .text(t.cancelled, 0, doc.page.height / 2 - 40, { width: doc.page.width, align: 'center' });
    doc.restore();
  }

  // The issuer's details at the foot of every page.
  const footer = [
    `${issuer.name} · ${issuer.street} · ${issuer.postalCode} ${issuer.city} · ${issuer.country}`,
    [
      issuer.taxNumber ? `${t.taxNumber} ${issuer.taxNumber}` : '',
      issuer.vatId ? `${t.vatId} ${issuer.vatId}` : '',
      issuer.email,
      issuer.phone,
    ]
      .filter(Boolean)
      .join(' · '),
  ].join('\n');
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i += 1) {
    doc.switchToPage(i);
    const bottom = doc.page.height - MARGIN - 10;
    doc.page.margins.bottom = 0;
    doc.font('Helvetica').fontSize(7).fillColor('#555555').fillOpacity(1);
    doc.text(footer, MARGIN, bottom - 14, { width, align: 'center', lineBreak: true });
    doc.text(`${t.page} ${i + 1} / ${range.count}`, MARGIN, bottom + 6, { width, align: 'right' });
  }
  doc.end();
  return done;
}
