import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandView, DepotView, InvoiceView, PayView } from '@kis/protocol/api';
import type { PayPalStandIn } from '../../../scripts/paypal-standin/server.js';
import type { SimulatedDepot } from '../../../scripts/simulator/depot.js';
import { ApiClient, createFirstAdmin } from '../../helpers/api.js';
import { download } from '../../helpers/areas.js';
import { registerDepot, simulate } from '../../helpers/depots.js';
import { makeOrganization, nextIp, type Org } from '../../helpers/organizations.js';
import { addCustomer, issueInvoice, setUpPayments, startServerWithPayPal, tokenOf } from '../../helpers/payments.js';
import { eventually, type TestServer } from '../../helpers/server.js';
import type { TestSmtp } from '../../helpers/smtp.js';

const run = promisify(execFile);
let paypal: PayPalStandIn;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let owner: ApiClient;
let org: Org;
let depot: SimulatedDepot;
let depotId: string;
let customerId: string;
let dir: string;

beforeAll(async () => {
  ({ paypal, smtp, server } = await startServerWithPayPal({ KIS_PAYPAL_TIMEOUT_SECONDS: '2' }));
  admin = await createFirstAdmin(server);
  ({ org, main: owner } = await makeOrganization(
    server,
    smtp,
    admin,
    'Autohaus Berger',
    'chef@autohaus-berger.example',
  ));
  const registered = await registerDepot(admin, {
    name: 'Schlüsseldepot Hof',
    compartments: 4,
    heartbeatSeconds: 1,
    organizationId: org.id,
  });
  depotId = registered.depot.depotId;
  depot = simulate(registered.provisioning);
  await depot.start();
  await eventually(async () => (await owner.get<DepotView>(`/api/depots/${depotId}`)).body.online, 5000, 'online');
  await setUpPayments(owner);
  customerId = (await addCustomer(owner)).id;
  dir = await mkdtemp(path.join(os.tmpdir(), 'kis-invoice-'));
});
afterAll(async () => {
  await depot?.stop();
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The payer's browser: no account, only the link. */
function payer(): ApiClient {
  return new ApiClient(server, nextIp());
}

async function payPage(token: string): Promise<PayView> {
  const res = await payer().get<PayView>(`/api/pay/${token}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** Starts a payment, approves it at the stand-in as the payer would, and returns the order id. */
async function approve(token: string): Promise<string> {
  const order = await payer().post<{ approveUrl: string }>(`/api/pay/${token}/order`, { lang: 'de' });
  expect(order.status, JSON.stringify(order.body)).toBe(200);
  const orderId = new URL(order.body.approveUrl).searchParams.get('token') ?? '';
  expect(orderId).not.toBe('');
  const back = new URL(await paypal.approve(orderId));
  expect(back.pathname).toBe(`/bezahlen/${token}`);
  expect(back.searchParams.get('token')).toBe(orderId);
  return orderId;
}

async function invoice(id: string): Promise<InvoiceView> {
  return (await owner.get<InvoiceView>(`/api/invoices/${id}`)).body;
}

async function setPinCommands(): Promise<CommandView[]> {
  const list = await owner.get<{ items: CommandView[] }>(`/api/depots/${depotId}/commands?pageSize=100`);
  return list.body.items.filter((c) => c.op === 'set_pin');
}

describe('settings', () => {
  it('keeps the PayPal secret sealed: never shown again, not in the database in clear', async () => {
    const settings = await owner.get<{ paypal: { secretHint: string; webhookId: string } }>('/api/payments/settings');
    expect(settings.body.paypal.secretHint).toBe('…4711');
    expect(JSON.stringify(settings.body)).not.toContain('geheim-Secret');
    // KIS registered its webhook at "PayPal" by itself.
    expect(settings.body.paypal.webhookId).not.toBe('');
    const mongo = await MongoClient.connect(server.mongoUri);
    try {
      const stored = await mongo.db().collection('payment_settings').findOne({});
      expect(JSON.stringify(stored)).not.toContain('geheim-Secret');
    } finally {
      await mongo.close();
    }
  });

  it('tests the connection, and names wrong credentials', async () => {
    expect((await owner.post('/api/payments/settings/test', {})).body).toMatchObject({ ok: true, mode: 'sandbox' });
    const wrong = await owner.post('/api/payments/settings/test', { clientId: 'x', secret: 'wrong', mode: 'sandbox' });
    expect(wrong.body).toMatchObject({ ok: false, code: 'paypal_auth_failed' });
  });
});

describe('invoices', () => {
  it('numbers issued invoices without gaps and mails each with its PDF', async () => {
    const since = smtp.mails.length;
    const first = await issueInvoice(owner, customerId);
    const second = await issueInvoice(owner, customerId);
    const firstSeq = Number(first.number?.slice(3));
    expect(first.number).toMatch(/^RE-\d{5}$/);
    expect(second.number).toBe(`RE-${String(firstSeq + 1).padStart(5, '0')}`);
    // 189.00 + 4.5 × 12.90 = 247.05 at 19 % (46.94), 5.00 at 7 % (0.35).
    expect(first).toMatchObject({ netCents: 25_205, vatCents: 4_729, grossCents: 29_934, state: 'open' });
    expect(first.vat).toEqual([
      { rate: 19, netCents: 24_705, vatCents: 4_694 },
      { rate: 7, netCents: 500, vatCents: 35 },
    ]);

    const mail = await smtp.waitFor('juergen.gross@kunde.example', new RegExp(`Rechnung ${second.number}`), { since });
    expect(mail.text).toMatch(/über 299,34\s€/);
    expect(mail.text).toContain(second.payUrl);
    const pdf = mail.attachments.find((a) => a.filename === `${second.number}.pdf`);
    expect(pdf?.contentType).toBe('application/pdf');
    const file = path.join(dir, 'invoice.pdf');
    if (!pdf) throw new Error('no PDF attached');
    await writeFile(file, pdf.content);
    const { stdout: text } = await run('pdftotext', ['-layout', file, '-']);
    // What §14 (4) UStG asks for: issuer and recipient, tax number, VAT id, dates, number, items,
    // net per rate, rate and tax amount.
    for (const expected of [
      'Autohaus Berger GmbH',
      'Hauptstraße 12',
      'Jürgen Groß',
      'Lindenweg 3',
      '143/123/45678',
      'DE123456789',
      `Rechnung ${second.number}`,
      'Rechnungsdatum',
      'Leistungsdatum',
      'Inspektion nach Herstellervorgabe',
      '4,5',
      'zzgl. 19 % USt auf 247,05 €',
      '46,94 €',
      'zzgl. 7 % USt auf 5,00 €',
      '299,34 €',
    ]) {
      // pdftotext turns the no-break space between amount and € into a plain one.
      expect(text.replace(/\u00a0/g, ' ')).toContain(expected);
    }
  });

  it('keeps drafts editable and issued invoices fixed', async () => {
    const draft = await owner.post<InvoiceView>('/api/invoices', {
      customerId,
      items: [{ description: 'Reifenwechsel', quantity: 1000, unitNetCents: 4000, vatRate: 19 }],
    });
    expect(draft.body.number).toBeNull();
    const changed = await owner.request<InvoiceView>('PUT', `/api/invoices/${draft.body.id}`, {
      customerId,
      items: [{ description: 'Reifenwechsel mit Wuchten', quantity: 1000, unitNetCents: 5000, vatRate: 19 }],
    });
    expect(changed.body.grossCents).toBe(5950);
    await owner.post(`/api/invoices/${draft.body.id}/issue`);
    const again = await owner.request('PUT', `/api/invoices/${draft.body.id}`, {
      customerId,
      items: [{ description: 'x', quantity: 1000, unitNetCents: 1, vatRate: 19 }],
    });
    expect(again.status).toBe(409);
    expect((await owner.request('DELETE', `/api/invoices/${draft.body.id}`)).status).toBe(409);
  });

  it('asks for what §14 UStG needs before it spends a number: the address above 250 €, a reason for 0 % VAT', async () => {
    const noAddress = await addCustomer(owner, {
      email: 'ohne.anschrift@kunde.example',
      street: '',
      postalCode: '',
      city: '',
    });
    const big = await owner.post<InvoiceView>('/api/invoices', {
      customerId: noAddress.id,
      items: [{ description: 'Motor', quantity: 1000, unitNetCents: 30_000, vatRate: 19 }],
    });
    const refused = await owner.post<{ error: { code: string } }>(`/api/invoices/${big.body.id}/issue`);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('customer_address_required');
    expect((await invoice(big.body.id)).number).toBeNull();

    const exempt = await owner.post<InvoiceView>('/api/invoices', {
      customerId,
      items: [{ description: 'Versicherungsleistung', quantity: 1000, unitNetCents: 1000, vatRate: 0 }],
    });
    const noReason = await owner.post<{ error: { code: string } }>(`/api/invoices/${exempt.body.id}/issue`);
    expect(noReason.body.error.code).toBe('vat_exemption_note_required');
    await owner.request('PUT', `/api/invoices/${exempt.body.id}`, {
      customerId,
      items: [{ description: 'Versicherungsleistung', quantity: 1000, unitNetCents: 1000, vatRate: 0 }],
      note: 'Steuerfrei nach § 4 Nr. 10 UStG',
    });
    expect((await owner.post<InvoiceView>(`/api/invoices/${exempt.body.id}/issue`)).body.state).toBe('open');
  });

  it('shows invoices only to those who bill for the organization', async () => {
    const mine = await issueInvoice(owner, customerId);
    const { main: other } = await makeOrganization(server, smtp, admin, 'Andere GmbH', 'chef@andere.example');
    expect((await other.get(`/api/invoices/${mine.id}`)).status).toBe(404);
    expect((await other.post(`/api/invoices/${mine.id}/cancel`)).status).toBe(404);
    expect((await other.get(`/api/payments/customers`)).body).toMatchObject({ total: 0 });
    // Billing from a depot of another organization is refused.
    const theirCustomer = await addCustomer(other, { email: 'k@andere.example' });
    const foreign = await other.post('/api/invoices', {
      customerId: theirCustomer.id,
      items: [{ description: 'x', quantity: 1000, unitNetCents: 100, vatRate: 19 }],
      depotId,
      comp: 1,
    });
    expect(foreign.status).toBe(404);
    expect((await payer().get('/api/invoices')).status).toBe(401);
    expect((await payer().get(`/api/pay/${'x'.repeat(32)}`)).status).toBe(404);
  });
});

describe('paying an invoice releases a PIN', () => {
  it('pays through PayPal, shows and mails the PIN once, and marks the invoice picked up when the key is taken', async () => {
    paypal.switches.duplicateWebhook = true;
    const since = smtp.mails.length;
    const inv = await issueInvoice(owner, customerId, { depotId, comp: 2 });
    const token = tokenOf(inv.payUrl);
    const before = await payPage(token);
    expect(before).toMatchObject({ state: 'open', payable: true, grossCents: 29_934, pin: null });
    expect(before.pickup).toEqual({ depotName: 'Schlüsseldepot Hof', location: 'Hamburg, Tor 3', comp: 2 });

    const orderId = await approve(token);
    // The payer's browser returns twice (reload), and PayPal's webhook arrives twice.
    const [a, b] = await Promise.all([
      payer().post<PayView>(`/api/pay/${token}/capture`, { orderId }),
      payer().post<PayView>(`/api/pay/${token}/capture`, { orderId }),
    ]);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(a.body.state).toBe('paid');
    expect(a.body.pin?.digits).toMatch(/^\d{6}$/);
    expect(b.body.pin?.digits).toBe(a.body.pin?.digits);
    const digits = a.body.pin?.digits ?? '';
    // Whoever has only the link (a forwarded invoice PDF) sees that it is paid, not the PIN.
    const forwarded = await payPage(token);
    expect(forwarded.state).toBe('paid');
    expect(forwarded.pin).toBeNull();
    expect(JSON.stringify(forwarded)).not.toContain(digits);
    await eventually(() => paypal.webhooksSent().filter((w) => w.status === 200).length >= 2, 5000, 'two webhooks');

    const pinMail = await smtp.waitFor('juergen.gross@kunde.example', new RegExp(`PIN zur Rechnung ${inv.number}`), {
      since,
    });
    expect(pinMail.text).toContain(digits);
    // The outbox holds a placeholder, never the PIN, and operators see it masked.
    const outbox = await admin.get<{ items: Array<{ kind: string; text: string }> }>('/api/admin/outbox?pageSize=100');
    const stored = outbox.body.items.filter((m) => m.kind === 'invoice_pin');
    expect(stored.length).toBeGreaterThan(0);
    for (const m of stored) {
      expect(m.text).toContain('••••••');
      expect(m.text).not.toContain(digits);
    }

    const paid = await invoice(inv.id);
    expect(paid.state).toBe('paid');
    const pinId = paid.pin?.pinId ?? '';
    await eventually(() => depot.hasPin(pinId), 5000, 'PIN on the depot');
    // One PIN, one set_pin, one PIN mail, one payment, however often it was confirmed.
    expect((await setPinCommands()).filter((c) => c.pinId === pinId)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(smtp.mails.slice(since).filter((m) => m.subject.includes(`PIN zur Rechnung ${inv.number}`))).toHaveLength(1);
    const mongo = await MongoClient.connect(server.mongoUri);
    try {
      expect(await mongo.db().collection('payments').countDocuments({ invoiceId: inv.id })).toBe(1);
      expect(
        await mongo
          .db()
          .collection('depot_pins')
          .countDocuments({ _id: pinId } as object),
      ).toBe(1);
    } finally {
      await mongo.close();
    }

    // The customer enters the PIN at the depot and takes the key.
    expect(depot.enterPin(digits)).toEqual({ pinId: pinId, comp: 2 });
    depot.takeKey(2, pinId);
    await eventually(async () => (await invoice(inv.id)).state === 'picked_up', 5000, 'picked up');
    // Picked up: even the payer's own return no longer shows the PIN.
    const late = await payer().post<PayView>(`/api/pay/${token}/capture`, { orderId });
    expect(late.body.state).toBe('picked_up');
    expect(late.body.pin).toBeNull();
    paypal.switches.duplicateWebhook = false;
  });

  it('says clearly when PayPal is unreachable, keeps the invoice open, and a retry succeeds', async () => {
    const inv = await issueInvoice(owner, customerId, { depotId, comp: 3 });
    const token = tokenOf(inv.payUrl);
    paypal.switches.down = true;
    const refused = await payer().post<{ error: { code: string } }>(`/api/pay/${token}/order`, { lang: 'de' });
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('payment_provider_unavailable');
    expect((await invoice(inv.id)).state).toBe('open');

    // A timeout is the same to the payer.
    paypal.switches.down = false;
    paypal.switches.timeoutMs = 4000;
    const slow = await payer().post<{ error: { code: string } }>(`/api/pay/${token}/order`, { lang: 'de' });
    expect(slow.status).toBe(503);
    paypal.switches.timeoutMs = 0;

    const orderId = await approve(token);
    // PayPal goes away between approval and capture: nothing is booked, the return can be repeated.
    paypal.switches.down = true;
    const failed = await payer().post(`/api/pay/${token}/capture`, { orderId });
    expect(failed.status).toBe(503);
    expect((await invoice(inv.id)).state).toBe('open');
    paypal.switches.down = false;
    const done = await payer().post<PayView>(`/api/pay/${token}/capture`, { orderId });
    expect(done.status).toBe(200);
    expect(done.body.state).toBe('paid');
    expect(paypal.orders().filter((o) => o.status === 'COMPLETED' && o.custom_id === inv.id)).toHaveLength(1);
  });

  it('keeps the invoice open when the payment is declined, and lets the payer try again', async () => {
    const inv = await issueInvoice(owner, customerId);
    const token = tokenOf(inv.payUrl);
    const orderId = await approve(token);
    paypal.switches.decline = true;
    const declined = await payer().post<{ error: { code: string } }>(`/api/pay/${token}/capture`, { orderId });
    expect(declined.status).toBe(409);
    expect(declined.body.error.code).toBe('payment_declined');
    expect((await invoice(inv.id)).state).toBe('open');
    paypal.switches.decline = false;
    const paid = await payer().post<PayView>(`/api/pay/${token}/capture`, { orderId });
    expect(paid.body.state).toBe('paid');
    // No compartment on this invoice: paid, but no PIN.
    expect(paid.body.pin).toBeNull();
  });

  it('refuses a webhook that PayPal did not send, and books nothing', async () => {
    const inv = await issueInvoice(owner, customerId);
    const settings = await owner.get<{ paypal: { webhookId: string } }>('/api/payments/settings');
    expect(settings.body.paypal.webhookId).not.toBe('');
    const sent = paypal.webhooksSent();
    const url = sent[0]?.url ?? '';
    expect(url).toContain('/api/payments/webhook/');
    const forged = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'paypal-auth-algo': 'SHA256withRSA',
        'paypal-cert-url': `${paypal.url}/v1/notifications/certs/CERT-1`,
        'paypal-transmission-id': 'forged-1',
        'paypal-transmission-sig': 'c2ln',
        'paypal-transmission-time': new Date().toISOString(),
      },
      body: JSON.stringify({
        id: 'WH-FORGED',
        event_type: 'PAYMENT.CAPTURE.COMPLETED',
        resource: {
          id: 'CAPTURE-FORGED',
          status: 'COMPLETED',
          amount: { currency_code: 'EUR', value: '299.34' },
          custom_id: inv.id,
        },
      }),
    });
    expect(forged.status).toBe(400);
    expect((await invoice(inv.id)).state).toBe('open');
  });
});

describe('cancel and refund', () => {
  it('cancels an open invoice: the link can no longer pay it', async () => {
    const inv = await issueInvoice(owner, customerId);
    const token = tokenOf(inv.payUrl);
    const cancelled = await owner.post<InvoiceView>(`/api/invoices/${inv.id}/cancel`);
    expect(cancelled.body.state).toBe('cancelled');
    expect((await payPage(token)).state).toBe('cancelled');
    expect((await payer().post(`/api/pay/${token}/order`, { lang: 'de' })).status).toBe(409);
    await smtp.waitFor('juergen.gross@kunde.example', new RegExp(`Rechnung ${inv.number} storniert`));
  });

  it('keeps a payment that lands on an invoice cancelled meanwhile refundable, and releases no PIN', async () => {
    const inv = await issueInvoice(owner, customerId, { depotId, comp: 1 });
    const token = tokenOf(inv.payUrl);
    const orderId = await approve(token);
    // PayPal takes the money but its answer is slow; the owner cancels in that moment.
    paypal.switches.timeoutMs = 1200;
    const capturing = payer().post(`/api/pay/${token}/capture`, { orderId });
    await new Promise((r) => setTimeout(r, 300));
    expect((await owner.post(`/api/invoices/${inv.id}/cancel`)).status).toBe(200);
    await capturing;
    paypal.switches.timeoutMs = 0;
    const after = await invoice(inv.id);
    expect(after.state).toBe('cancelled');
    expect(after.pin).toBeNull();
    expect(after.paidAt).not.toBeNull();
    const log = await admin.get<{ items: Array<{ target: string }> }>(
      '/api/admin/audit?action=payments.capture_on_cancelled_invoice',
    );
    expect(log.body.items.some((e) => e.target === inv.id)).toBe(true);
    const refunded = await owner.post<InvoiceView>(`/api/invoices/${inv.id}/refund`);
    expect(refunded.body.state).toBe('refunded');
  });

  it('refunds a paid invoice through PayPal and revokes its PIN on the depot', async () => {
    const inv = await issueInvoice(owner, customerId, { depotId, comp: 4 });
    const token = tokenOf(inv.payUrl);
    const orderId = await approve(token);
    await payer().post(`/api/pay/${token}/capture`, { orderId });
    const paid = await invoice(inv.id);
    const pinId = paid.pin?.pinId ?? '';
    await eventually(() => depot.hasPin(pinId), 5000, 'PIN on the depot');
    expect((await owner.post(`/api/invoices/${inv.id}/cancel`)).status).toBe(409);

    const refunded = await owner.post<InvoiceView>(`/api/invoices/${inv.id}/refund`);
    expect(refunded.status, JSON.stringify(refunded.body)).toBe(200);
    expect(refunded.body.state).toBe('refunded');
    expect(paypal.orders().find((o) => o.id === orderId)?.refunded).toBe('299.34');
    await eventually(() => !depot.hasPin(pinId), 5000, 'PIN revoked on the depot');
    expect((await payPage(token)).pin).toBeNull();
    // The refund webhook that follows changes nothing more.
    await new Promise((r) => setTimeout(r, 300));
    expect((await invoice(inv.id)).state).toBe('refunded');
  });
});

describe('exports', () => {
  it('exports invoices as a CSV that reads back with umlauts, states and German amounts', async () => {
    const got = await download(owner, '/api/invoices/export?format=csv&delimiter=%3B&lang=de&tz=Europe/Berlin');
    expect(got.status).toBe(200);
    expect(got.headers.get('content-disposition')).toMatch(/filename="rechnungen-/);
    const rows = parse(got.bytes, { bom: true, delimiter: ';', columns: true }) as Array<Record<string, string>>;
    expect(Number(got.headers.get('x-export-rows'))).toBe(rows.length);
    expect(Object.keys(rows[0] ?? {})).toEqual([
      'Nummer',
      'Datum',
      'Kunde',
      'Referenz',
      'Status',
      'Netto (EUR)',
      'USt (EUR)',
      'Brutto (EUR)',
      'Fällig',
      'Bezahlt',
      'Abgeholt',
    ]);
    // In number order, drafts left out, each invoice once.
    const numbers = rows.map((r) => r.Nummer);
    expect(numbers).toEqual([...numbers].sort());
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(numbers.every((n) => /^RE-\d{5}$/.test(n ?? ''))).toBe(true);
    expect(rows[0]).toMatchObject({ Kunde: 'Jürgen Groß', Referenz: 'M-KB 1234', 'Brutto (EUR)': '299,34' });
    expect(new Set(rows.map((r) => r.Status))).toEqual(
      new Set(['Offen', 'Abgeholt', 'Bezahlt', 'Storniert', 'Erstattet']),
    );
  });

  it('exports payments and refunds; a PDF of them renders', async () => {
    const got = await download(owner, '/api/payments/export?format=csv&delimiter=%2C&lang=en&tz=Europe/Berlin');
    const rows = parse(got.bytes, { bom: true, delimiter: ',', columns: true }) as Array<Record<string, string>>;
    const kinds = rows.map((r) => r.Kind);
    expect(kinds.filter((k) => k === 'Payment').length).toBeGreaterThanOrEqual(3);
    expect(kinds).toContain('Refund');
    expect(rows.find((r) => r.Kind === 'Refund')?.['Amount (EUR)']).toBe('-299.34');

    const pdf = await download(owner, '/api/payments/export?format=pdf&lang=de&tz=Europe/Berlin');
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const file = path.join(dir, 'payments.pdf');
    await writeFile(file, pdf.bytes);
    const { stdout } = await run('pdftotext', ['-layout', file, '-']);
    expect(stdout).toContain('Zahlungen');
    expect(stdout).toContain('Erstattung');
    expect(stdout).toContain('-299,34');
  });

  it('refuses exports to those who do not bill for the organization', async () => {
    const stranger = new ApiClient(server, nextIp());
    expect((await download(stranger, '/api/invoices/export?format=csv')).status).toBe(401);
  });
});
