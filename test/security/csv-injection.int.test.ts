import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvoiceView } from '@kis/protocol/api';
import type { PayPalStandIn } from '../../scripts/paypal-standin/server.js';
import { ApiClient, createFirstAdmin } from '../helpers/api.js';
import { download } from '../helpers/areas.js';
import { registerDepot } from '../helpers/depots.js';
import { makeOrganization, nextIp } from '../helpers/organizations.js';
import { addCustomer, issueInvoice, setUpPayments, startServerWithPayPal, tokenOf } from '../helpers/payments.js';
import type { TestServer } from '../helpers/server.js';
import type { TestSmtp } from '../helpers/smtp.js';

/**
 * Issue 20, finding 1: text that people typed (some of them not even signed in) must not reach a
 * spreadsheet as a formula. OWASP's rule: a cell that begins with `=`, `+`, `-`, `@`, tab or CR
 * gets a leading `'`.
 */
let paypal: PayPalStandIn;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let owner: ApiClient;

beforeAll(async () => {
  ({ paypal, smtp, server } = await startServerWithPayPal());
  admin = await createFirstAdmin(server);
  ({ main: owner } = await makeOrganization(server, smtp, admin, 'Autohaus Formel', 'chef@formel.example'));
  await setUpPayments(owner);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
});

/** A cell a spreadsheet would run: what no exported text cell may look like. */
const FORMULA = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

/** Reads a CSV as a spreadsheet does: any line break outside quotes ends a row. */
function csv(bytes: Buffer, delimiter = ';'): Array<Record<string, string>> {
  return parse(bytes, {
    bom: true,
    delimiter,
    columns: true,
    record_delimiter: ['\r\n', '\r', '\n'],
    relax_column_count: true,
  }) as Array<Record<string, string>>;
}

describe('CSV exports', () => {
  it("writes what a stranger typed into the login form's e-mail field into the audit CSV as text, not a formula", async () => {
    const typed = [
      '=HYPERLINK("http://x","y")@a.de',
      '+HYPERLINK("http://x","y")@a.de',
      '-HYPERLINK("http://x","y")@a.de',
      '@HYPERLINK("http://x","y")@a.de',
      '\t=HYPERLINK("http://x","y")@a.de',
      '\r=HYPERLINK("http://x","y")@a.de',
      '\uFF1DHYPERLINK("http://x","y")@a.de',
    ];
    for (const email of typed) {
      // Nobody signed in: a fresh browser from a fresh address, so no throttle interferes.
      const res = await new ApiClient(server, nextIp()).post('/api/auth/login', { email, password: 'irgendwas' });
      expect(res.status).toBe(401);
    }
    for (const delimiter of [';', ',']) {
      const got = await download(
        admin,
        `/api/admin/audit/export?format=csv&action=login.failed&delimiter=${encodeURIComponent(delimiter)}`,
      );
      expect(got.status).toBe(200);
      const rows = csv(got.bytes, delimiter);
      // The log keeps what was typed (trimmed); the CSV shows it whole, behind one quote mark.
      expect(rows.map((r) => r.Wer)).toEqual(typed.map((t) => `'${t.trim()}`));
      for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(FORMULA);
    }
  });

  it('writes a customer named like a formula as text, and keeps amounts (refunds too) numbers', async () => {
    const customer = await addCustomer(owner, {
      name: '=HYPERLINK("http://x","y")',
      reference: '-2+3',
      email: 'formel@kunde.example',
    });
    const inv: InvoiceView = await issueInvoice(owner, customer.id);
    // Paid and refunded, so the payments export holds a negative amount.
    const token = tokenOf(inv.payUrl);
    const payer = new ApiClient(server, nextIp());
    const order = await payer.post<{ approveUrl: string }>(`/api/pay/${token}/order`, { lang: 'de' });
    expect(order.status, JSON.stringify(order.body)).toBe(200);
    const orderId = new URL(order.body.approveUrl).searchParams.get('token') ?? '';
    await paypal.approve(orderId);
    expect((await payer.post(`/api/pay/${token}/capture`, { orderId })).status).toBe(200);
    expect((await owner.post(`/api/invoices/${inv.id}/refund`)).status).toBe(200);

    const invoices = csv((await download(owner, '/api/invoices/export?format=csv&delimiter=%3B&lang=de')).bytes);
    const row = invoices.find((r) => r.Nummer === inv.number);
    expect(row).toMatchObject({
      Kunde: `'=HYPERLINK("http://x","y")`,
      Referenz: "'-2+3",
      'Brutto (EUR)': '299,34',
    });

    const payments = csv((await download(owner, '/api/payments/export?format=csv&delimiter=%3B&lang=de')).bytes);
    // A refund of the whole amount: written as a plain negative number that Excel adds up.
    expect(payments.map((p) => p['Betrag (EUR)'])).toEqual(['299,34', '-299,34']);
    const english = csv((await download(owner, '/api/payments/export?format=csv&delimiter=,&lang=en')).bytes, ',');
    expect(english.map((p) => p['Amount (EUR)'])).toEqual(['299.34', '-299.34']);
  });

  it('keeps a note with a line break in it one cell of one row, so nothing after the break starts a cell', async () => {
    const { depot } = await registerDepot(admin, { name: 'Depot Formel' });
    const notes = ['Schlüssel da\n=SUM(1+2)', 'Schlüssel da\r@SUM(1+2)', '+Schlüssel da\r\n-3+4'];
    for (const text of notes) {
      expect((await admin.post(`/api/depots/${depot.depotId}/history`, { kind: 'note', text })).status).toBe(200);
    }
    const got = await download(admin, `/api/depots/${depot.depotId}/history/export?format=csv&delimiter=%3B`);
    expect(got.status).toBe(200);
    const rows = csv(got.bytes);
    expect(rows.map((r) => r.Info)).toEqual([notes[0], notes[1], `'${notes[2]}`]);
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(FORMULA);
  });
});
