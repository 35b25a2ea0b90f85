import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureView } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { download, upload } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { customer, makeOrganization, nextIp, type Org } from '../../helpers/organizations.js';
import { addCustomer, issueInvoice, setUpPayments } from '../../helpers/payments.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../../helpers/smtp.js';
import { jsonOf, unzip } from '../../helpers/zip.js';

const PERSON = 'max.daten@firma-daten.example';
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;
let person: ApiClient;
let org: Org;
let fileBytes: Buffer;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
  const made = await makeOrganization(server, smtp, admin, 'Firma Daten', PERSON);
  org = made.org;
  person = made.main;
  fileBytes = randomBytes(300_000);
  expect((await upload(person, '/api/files?name=Pl%C3%A4ne%20Q3.bin', fileBytes)).status).toBe(200);
  await admin.post('/api/information', { scope: 'person', email: PERSON, title: 'Willkommen', body: 'Hallo Max' });
  expect((await person.post('/api/documents', { title: 'Übergabeprotokoll' })).status).toBe(200);
  const { depot } = await registerDepot(admin, { name: 'Depot Nord', organizationId: org.id });
  await admin.post(`/api/depots/${depot.depotId}/pins`, { comp: 1, label: 'Max', holderEmail: PERSON });
  await admin.post(`/api/depots/${depot.depotId}/history`, { kind: 'note', text: 'von Admin' });
  await person.post(`/api/depots/${depot.depotId}/history`, { kind: 'note', text: 'Schlüssel geprüft' });
  // Billed by another company at this address.
  const { main: shop } = await makeOrganization(server, smtp, admin, 'Werkstatt', 'chef@werkstatt-daten.example');
  await setUpPayments(shop);
  await issueInvoice(shop, (await addCustomer(shop, { email: PERSON, name: 'Max Daten' })).id);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

describe('data export', () => {
  it('gives a person a ZIP with every kind of data KIS holds about them', async () => {
    const got = await download(person, '/api/account/export');
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/zip');
    expect(got.headers.get('content-disposition')).toMatch(/filename="kis-daten-\d{4}-\d{2}-\d{2}\.zip"/);
    const files = await unzip(got.bytes);

    expect(jsonOf(files, 'konto.json')).toMatchObject({
      account: { email: PERSON },
      organization: { name: 'Firma Daten', accountType: 'main' },
    });
    expect(jsonOf(files, 'informationen.json')).toEqual([
      expect.objectContaining({ title: 'Willkommen', body: 'Hallo Max' }),
    ]);
    const listed = jsonOf(files, 'dateien.json') as Array<{ name: string; path: string }>;
    expect(listed).toHaveLength(1);
    expect(listed[0]?.name).toBe('Pläne Q3.bin');
    expect(files.get(listed[0]?.path ?? '')?.equals(fileBytes)).toBe(true);
    const texts = jsonOf(files, 'texte.json') as Array<{ title: string; path: string }>;
    expect(texts.map((t) => t.title)).toEqual(['Übergabeprotokoll']);
    expect(files.get(texts[0]?.path ?? '')?.toString()).toContain('Übergabeprotokoll');
    const depots = jsonOf(files, 'depots.json') as { pins: unknown[]; historyEntries: Array<{ info: string }> };
    expect(depots.pins).toHaveLength(1);
    expect(depots.historyEntries.map((h) => h.info)).toEqual(['Schlüssel geprüft']);
    const billing = jsonOf(files, 'rechnungen.json') as {
      customerRecords: unknown[];
      invoices: Array<{ number: string }>;
    };
    expect(billing.customerRecords).toHaveLength(1);
    expect(billing.invoices[0]?.number).toMatch(/^RE-\d{5}$/);
    expect((jsonOf(files, 'protokoll.json') as unknown[]).length).toBeGreaterThan(0);
    expect((jsonOf(files, 'mails.json') as Array<{ subject: string }>).some((m) => /Rechnung/.test(m.subject))).toBe(
      true,
    );
    // Secrets stay out: no PIN digits, no password hash, no payment link tokens.
    const all = [...files.values()].map((b) => b.toString('latin1')).join('\n');
    expect(all).not.toMatch(/passwordHash|sealedPin|sealedPayToken/);
  });

  it('lets an operator export a whole company, and nobody else', async () => {
    const got = await download(admin, `/api/admin/organizations/${org.id}/export`);
    expect(got.status).toBe(200);
    const files = await unzip(got.bytes);
    expect(jsonOf(files, 'unternehmen.json')).toMatchObject({ organization: { name: 'Firma Daten' } });
    expect(files.has(`personen/${PERSON}/konto.json`)).toBe(true);
    expect((await download(person, `/api/admin/organizations/${org.id}/export`)).status).toBe(403);
  });
});

describe('deleting one’s own account', () => {
  it('needs the password, then removes the account at once when nothing is pending', async () => {
    const leaving = await customer(server, smtp, 'geht@kunde-daten.example');
    const wrong = await leaving.post('/api/account/erase', { password: 'falsch falsch falsch' });
    expect(wrong.status).toBe(400);
    expect((await leaving.get('/api/account')).status).toBe(200);

    const done = await leaving.post<ErasureView>('/api/account/erase', { password: GOOD_PASSWORD, reason: 'self' });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ state: 'done', reason: 'self' });
    expect((await leaving.get('/api/account')).status).toBe(401);
    expect((await new ApiClient(server, nextIp()).login('geht@kunde-daten.example', GOOD_PASSWORD)).status).toBe(401);
  });
});

describe('the public revocation form', () => {
  it('answers alike for known and unknown addresses, and a mailed code turns into an erasure', async () => {
    const known = 'widerruf@kunde-daten.example';
    await customer(server, smtp, known);
    const anonymous = new ApiClient(server, nextIp());
    const before = smtp.mails.length;
    const unknown = await anonymous.post('/api/privacy/revocation', { email: 'niemand@nirgends.example' });
    const asked = await anonymous.post('/api/privacy/revocation', { email: known });
    expect(unknown.status).toBe(200);
    expect(asked.status).toBe(200);
    expect(unknown.body).toEqual(asked.body);
    const mail = await smtp.waitFor(known, /Widerruf bestätigen/, { since: before });
    expect(smtp.mails.slice(before).some((m) => m.to.includes('niemand@nirgends.example'))).toBe(false);

    const wrong = await anonymous.post<{ error: { code: string } }>('/api/privacy/revocation/confirm', {
      email: known,
      code: '000000',
    });
    expect(wrong.status).toBe(400);
    const confirmed = await anonymous.post('/api/privacy/revocation/confirm', { email: known, code: codeIn(mail) });
    expect(confirmed.status).toBe(200);
    await eventually(
      async () =>
        (await admin.get<{ items: ErasureView[] }>('/api/admin/erasures?pageSize=100')).body.items.some(
          (r) => r.reason === 'revocation' && r.state === 'done',
        ),
      10_000,
      'revocation carried out',
    );
    expect((await new ApiClient(server, nextIp()).login(known, GOOD_PASSWORD)).status).toBe(401);
  });
});
