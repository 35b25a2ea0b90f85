import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BSON, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureView, InvoiceView } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { upload } from '../../helpers/areas.js';
import { kisCli } from '../../helpers/cli.js';
import { registerDepot } from '../../helpers/depots.js';
import { customer, makeOrganization, nextIp } from '../../helpers/organizations.js';
import { addCustomer, issueInvoice, ISSUER } from '../../helpers/payments.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const PERSON = 'erika.loeschen@kundin.example';
const ADMIN = 'admin@kis.test';
const MASTER_KEY = randomBytes(32).toString('hex');
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;
let person: ApiClient;
let dir: string;
let invoiceId: string;
let owner: ApiClient;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kis-erasure-'));
  smtp = await startSmtp();
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_MASTER_KEY: MASTER_KEY, KIS_ERASURE_CHECK_SECONDS: '1' },
  });
  admin = await createFirstAdmin(server, ADMIN);
  person = await customer(server, smtp, PERSON);
  await person.request('PATCH', '/api/account', { name: 'Erika Löschen', phone: '+49 170 555' });

  // Their data, of every kind: a file that names them, an entry for them, a text, a depot PIN
  // that is still valid for a few seconds (an active transfer), and an invoice to them.
  expect(
    (await upload(person, '/api/files?name=lebenslauf.txt', Buffer.from(`Kontakt: ${PERSON}, Tel. +49 170 555`)))
      .status,
  ).toBe(200);
  expect(
    (
      await admin.post('/api/information', {
        scope: 'person',
        email: PERSON,
        title: 'Ihr Vertrag',
        body: `Hallo Erika, wir schreiben an ${PERSON}.`,
      })
    ).status,
  ).toBe(200);
  expect((await person.post('/api/documents', { title: 'Meine Notizen' })).status).toBe(200);
  const { depot } = await registerDepot(admin, { name: 'Depot West' });
  const pin = await admin.post(`/api/depots/${depot.depotId}/pins`, {
    comp: 1,
    label: 'Erika Löschen',
    holderEmail: PERSON,
    validUntil: new Date(Date.now() + 6000).toISOString(),
  });
  expect(pin.status, JSON.stringify(pin.body)).toBe(200);

  ({ main: owner } = await makeOrganization(server, smtp, admin, 'Werkstatt', 'chef@werkstatt.example'));
  await owner.request('PUT', '/api/payments/settings', {
    issuer: ISSUER,
    numberPrefix: 'RE-',
    paymentTermDays: 14,
    pinValidDays: 7,
    paypal: null,
  });
  const billed = await addCustomer(owner, { email: PERSON, name: 'Erika Löschen' });
  const invoice = await issueInvoice(owner, billed.id);
  invoiceId = invoice.id;
  // Paid elsewhere, say: the invoice is closed, only the law keeps it.
  expect((await owner.post(`/api/invoices/${invoiceId}/cancel`)).status).toBe(200);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function request(id: string): Promise<ErasureView | undefined> {
  const list = await admin.get<{ items: ErasureView[] }>('/api/admin/erasures?pageSize=100');
  return list.body.items.find((r) => r.id === id);
}

describe('erasure by an operator', () => {
  it('waits while the person holds a valid PIN, then erases them everywhere and tells the operators', async () => {
    const asked = await admin.post<{ items: ErasureView[] }>('/api/admin/erasures', { emails: [PERSON] });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    const [req] = asked.body.items;
    expect(req).toMatchObject({ state: 'waiting', email: PERSON, waitingFor: ['pins'], reason: 'admin' });
    const notBefore = Date.parse(req?.notBefore ?? '');
    expect(notBefore).toBeGreaterThan(Date.now());

    // While it waits, the person can still use the portal (collect what is theirs).
    expect((await new ApiClient(server, nextIp()).login(PERSON, GOOD_PASSWORD)).status).toBe(200);
    expect((await request(req?.id ?? ''))?.state).toBe('waiting');

    // The PIN expires; the job completes the request.
    await eventually(async () => (await request(req?.id ?? ''))?.state === 'done', 20_000, 'erasure done');
    const done = await request(req?.id ?? '');
    expect(Date.parse(done?.completedAt ?? '')).toBeGreaterThanOrEqual(notBefore);
    expect(done?.email).not.toContain('loeschen');
    expect(done?.kept).toContain('Rechnung');

    // Every operator gets a mail naming the address, the time and who asked.
    const notice = await smtp.waitFor(ADMIN, /Personenbezogene Daten gelöscht/);
    expect(notice.text).toContain(PERSON);
    expect(notice.text).toContain(`Veranlasst von: ${ADMIN}`);

    // The system log says what was removed, without the address.
    const logged = server.logs.find((l) => l.msg === 'erasure completed');
    expect(logged?.removed).toMatchObject({ account: { account: 1 }, depots: { pins: 1 }, documents: { deleted: 1 } });
    expect(JSON.stringify(logged)).not.toContain(PERSON);

    // The invoice keeps only what the law asks for.
    const res = await owner.get<InvoiceView>(`/api/invoices/${invoiceId}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const kept = res.body;
    expect(kept.customer).toMatchObject({ name: 'Erika Löschen', street: 'Lindenweg 3', phone: '', reference: '' });
    expect(kept.payUrl).toBeNull();
  });

  it('leaves the address nowhere in the database or its files, and the audit chain still verifies', async () => {
    const mongo = await MongoClient.connect(server.mongoUri);
    try {
      const db = mongo.db();
      const needle = PERSON.toLowerCase();
      const bytes = Buffer.from(PERSON);
      const found: string[] = [];
      for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
        for await (const doc of db.collection(name).find({})) {
          const text = BSON.EJSON.stringify(doc, { relaxed: true }).toLowerCase();
          if (text.includes(needle)) found.push(`${name}: ${text.slice(0, 200)}`);
          // GridFS chunks and Yjs states are binary: look into the bytes too.
          for (const value of Object.values(doc)) {
            const buffer = value instanceof BSON.Binary ? Buffer.from(value.buffer) : undefined;
            if (buffer?.includes(bytes)) found.push(`${name}: bytes of ${String(doc._id)}`);
          }
        }
      }
      expect(found).toEqual([]);
    } finally {
      await mongo.close();
    }
    const verified = await kisCli(['audit:verify'], {
      MONGODB_URI: server.mongoUri,
      KIS_MASTER_KEY: MASTER_KEY,
      KIS_DATA_DIR: dir,
    });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain('audit log intact');
  });

  it('refuses the erased person at the login, like any unknown address', async () => {
    expect((await new ApiClient(server, nextIp()).login(PERSON, GOOD_PASSWORD)).status).toBe(401);
  });

  it('only lets operators ask', async () => {
    const other = await customer(server, smtp, 'neugierig@kunde.example');
    expect((await other.post('/api/admin/erasures', { emails: ['chef@werkstatt.example'] })).status).toBe(403);
    expect((await other.get('/api/admin/erasures')).status).toBe(403);
  });
});
