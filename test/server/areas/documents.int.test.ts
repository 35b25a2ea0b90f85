import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentView } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { connectSocket, countIn } from '../../helpers/areas.js';
import { YClient } from '../../helpers/documents.js';
import {
  acceptInvitation,
  createSubAccount,
  customer,
  makeOrganization,
  type Org,
} from '../../helpers/organizations.js';
import { exited, startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let acme: { org: Org; main: ApiClient };
const sockets: Array<{ close(): void }> = [];

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url, KIS_DOCUMENT_MAX_KB: '64' } });
  admin = await createFirstAdmin(server);
  acme = await makeOrganization(server, smtp, admin, 'Acme GmbH', 'chef@acme.example');
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.stop();
  await smtp?.close();
});

async function editor(client: ApiClient, docId: string, on: TestServer = server): Promise<YClient> {
  const socket = await connectSocket(on, client);
  sockets.push(socket);
  return new YClient(socket, docId);
}

/** An update as the sync message carrying it. */
function updateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** An update message with bytes that are no Yjs update. */
function garbageUpdate(): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, syncProtocol.messageYjsUpdate);
  encoding.writeVarUint8Array(encoder, new Uint8Array([0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05]));
  return encoding.toUint8Array(encoder);
}

describe('area 3: texts edited together', () => {
  let doc: DocumentView;

  it('lets a customer create a company text that lists title, owner and last editor', async () => {
    const created = await acme.main.post<DocumentView>('/api/documents', {
      title: 'Leistungsbeschreibung',
      forOrganization: true,
    });
    expect(created.status).toBe(200);
    doc = created.body;
    expect(doc).toMatchObject({
      title: 'Leistungsbeschreibung',
      access: 'edit',
      owner: { kind: 'organization', name: 'Acme GmbH' },
    });
    const list = await acme.main.get<{ items: DocumentView[] }>('/api/documents');
    expect(list.body.items.map((d) => [d.title, d.lastEditor])).toEqual([
      ['Leistungsbeschreibung', 'chef@acme.example'],
    ]);
    // The operator sees it too.
    expect((await admin.get<{ items: DocumentView[] }>('/api/documents')).body.items.map((d) => d.id)).toContain(
      doc.id,
    );
  });

  it('ends with the same text for a customer and the operator typing at once', async () => {
    const a = await editor(acme.main, doc.id);
    const b = await editor(admin, doc.id);
    expect((await a.open()).ok).toBe(true);
    expect((await b.open()).ok).toBe(true);
    a.insert(0, 'Kunde schreibt. ');
    b.insert(0, 'Betreiber schreibt. ');
    for (let i = 0; i < 20; i++) {
      a.insert(a.text.length, `a${i} `);
      b.insert(0, `b${i} `);
    }
    expect((await a.settled()).every((r) => r.ok)).toBe(true);
    expect((await b.settled()).every((r) => r.ok)).toBe(true);
    await expect.poll(() => a.text === b.text && a.text.length > 0, { timeout: 5000 }).toBe(true);
    expect(a.text).toContain('Kunde schreibt.');
    expect(a.text).toContain('Betreiber schreibt.');
    expect(a.text).toContain('a19');
    expect(a.text).toContain('b19');

    // A third editor opening later gets everything from the server, seeding nothing itself.
    const c = await editor(admin, doc.id);
    await c.open();
    await expect.poll(() => c.text, { timeout: 5000 }).toBe(a.text);
  });

  it('keeps out a stranger and lets a reader read along without changing anything', async () => {
    const stranger = await customer(server, smtp, 'fremd@other.example');
    const s = await editor(stranger, doc.id);
    const refused = await s.open();
    expect(refused).toMatchObject({ ok: false, error: { code: 'not_found' } });

    await acme.main.post(`/api/organizations/${acme.org.id}/sub-accounts`, {
      email: 'leser@acme.example',
      name: 'Leser',
      rights: ['read_areas'],
      redirectToMain: false,
    });
    const reader = await acceptInvitation(server, smtp, 'leser@acme.example');
    const r = await editor(reader, doc.id);
    const opened = await r.open();
    expect(opened).toMatchObject({ ok: true, value: { access: 'read' } });
    await expect.poll(() => r.text.length, { timeout: 5000 }).toBeGreaterThan(0);
    const before = r.text;
    r.insert(0, 'UNERLAUBT ');
    const answers = await r.settled();
    expect(answers.at(-1)).toMatchObject({ ok: false, error: { code: 'forbidden' } });

    const fresh = await editor(admin, doc.id);
    await fresh.open();
    await expect.poll(() => fresh.text, { timeout: 5000 }).toBe(before);
    expect(fresh.text).not.toContain('UNERLAUBT');
  });

  it('stops a writer the moment the right to edit is taken away, without reopening', async () => {
    const writerId = await createSubAccount(acme.main, acme.org.id, {
      email: 'schreiber@acme.example',
      name: 'Schreiber',
      rights: ['read_areas', 'edit_texts'],
      redirectToMain: false,
    });
    const writer = await acceptInvitation(server, smtp, 'schreiber@acme.example');
    const w = await editor(writer, doc.id);
    expect(await w.open()).toMatchObject({ ok: true, value: { access: 'edit' } });
    w.insert(0, 'Darf noch. ');
    expect((await w.settled()).every((r) => r.ok)).toBe(true);

    const changed = await acme.main.request('PATCH', `/api/sub-accounts/${writerId}`, {
      rights: ['read_areas'],
      password: GOOD_PASSWORD,
    });
    expect(changed.status).toBe(200);
    w.insert(0, 'Darf nicht mehr. ');
    expect((await w.settled()).at(-1)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const check = await editor(admin, doc.id);
    await check.open();
    await expect.poll(() => check.text, { timeout: 5000 }).toContain('Darf noch.');
    expect(check.text).not.toContain('Darf nicht mehr.');
  });

  it('refuses malformed and oversized updates without harming the stored text', async () => {
    const a = await editor(acme.main, doc.id);
    await a.open();
    await expect.poll(() => a.text.length, { timeout: 5000 }).toBeGreaterThan(0);
    const before = a.text;
    expect(await a.send(garbageUpdate())).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(await a.send(new Uint8Array([0x07, 0x01]))).toMatchObject({ ok: false, error: { code: 'invalid' } });
    const bad = await a.socket.timeout(5000).emitWithAck('doc:sync', { docId: doc.id, message: 'kein Binär' } as never);
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid' } });

    // Content the editor never makes: another root type, an element outside the schema.
    const evil = new Y.Doc();
    evil.getMap('evil').set('x', 1);
    expect(await a.send(updateMessage(Y.encodeStateAsUpdate(evil)))).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
    const script = new Y.Doc();
    script.getXmlFragment('default').insert(0, [new Y.XmlElement('script')]);
    expect(await a.send(updateMessage(Y.encodeStateAsUpdate(script)))).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });

    a.insert(0, 'x'.repeat(80 * 1024));
    const answers = await a.settled();
    expect(answers.at(-1)).toMatchObject({ ok: false, error: { code: 'invalid', message: 'document_too_large' } });

    const fresh = await editor(admin, doc.id);
    await fresh.open();
    await expect.poll(() => fresh.text, { timeout: 5000 }).toBe(before);
  });

  it('renames and deletes with audit entries, and tells open editors', async () => {
    const created = await acme.main.post<DocumentView>('/api/documents', { title: 'Entwurf' });
    expect(created.body.owner).toMatchObject({ kind: 'user', name: 'chef@acme.example' });
    const renamed = await acme.main.request<DocumentView>('PATCH', `/api/documents/${created.body.id}`, {
      title: 'Fassung 2',
    });
    expect(renamed.body, JSON.stringify(renamed.body)).toMatchObject({ title: 'Fassung 2' });
    const open = await editor(admin, created.body.id);
    await open.open();
    const closed = new Promise<string>((resolve) => open.socket.once('doc:closed', (p) => resolve(p.reason)));
    expect((await acme.main.request('DELETE', `/api/documents/${created.body.id}`)).status).toBe(200);
    expect(await closed).toBe('deleted');
    expect((await acme.main.request('DELETE', `/api/documents/${created.body.id}`)).status).toBe(404);
    const log = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?pageSize=100');
    const actions = log.body.items.map((e) => e.action);
    for (const action of ['document.created', 'document.renamed', 'document.deleted'])
      expect(actions).toContain(action);
  });
});

describe('durability', () => {
  it('keeps every confirmed edit when the server is killed in the middle of editing', async () => {
    const first = await startServer({ env: { KIS_DOCUMENT_IDLE_SECONDS: '600' } });
    let second: TestServer | undefined;
    try {
      const boss = await createFirstAdmin(first);
      const created = await boss.post<DocumentView>('/api/documents', { title: 'Protokoll' });
      const a = await editor(boss, created.body.id, first);
      await a.open();
      // Typing goes on while the server is killed: what it confirmed must be there afterwards.
      const answers: Array<Promise<{ ok: boolean }>> = [];
      const confirmed: string[] = [];
      for (let i = 0; i < 60; i++) {
        const marker = `[${i}]`;
        answers.push(a.typed(a.text.length, marker).then((r) => (r.ok && confirmed.push(marker), r)));
        if (i === 30) {
          await answers[20];
          first.process.kill('SIGKILL');
          await exited(first.process);
          // The browser notices a dead server after its ping timeout; the test at once.
          a.socket.disconnect();
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await exited(first.process);
      await Promise.all(answers);
      expect(confirmed.length).toBeGreaterThan(20);
      second = await startServer({ env: { MONGODB_URI: first.mongoUri } });
      const again = await createFirstAdminLogin(second);
      const b = await editor(again, created.body.id, second);
      await b.open();
      await expect.poll(() => b.text.length, { timeout: 5000 }).toBeGreaterThan(0);
      for (const marker of confirmed) expect(b.text).toContain(marker);
    } finally {
      await second?.stop();
      await first.stop();
    }
  });
});

describe('compaction', () => {
  it('folds stored updates into the document state in the background and loses nothing by it', async () => {
    const created = await admin.post<DocumentView>('/api/documents', { title: 'Lang' });
    const id = created.body.id;
    // Two sockets, each below its rate limit, together past the compaction point (200 updates).
    const a = await editor(admin, id);
    await a.open();
    for (let i = 0; i < 110; i++) {
      a.insert(a.text.length, `a${i} `);
      if (i % 50 === 49) await a.settled();
    }
    expect((await a.settled()).every((r) => r.ok)).toBe(true);
    const c = await editor(admin, id);
    await c.open();
    await expect.poll(() => c.text, { timeout: 5000 }).toBe(a.text);
    for (let i = 0; i < 110; i++) {
      c.insert(0, `c${i} `);
      if (i % 50 === 49) await c.settled();
    }
    expect((await c.settled()).every((r) => r.ok)).toBe(true);
    await expect.poll(() => a.text, { timeout: 5000 }).toBe(c.text);

    // 220 updates stored; the compaction at 200 took those into the state and dropped their rows.
    await expect.poll(() => countIn(server, 'document_updates', { docId: id }), { timeout: 10_000 }).toBeLessThan(30);
    const fresh = await editor(admin, id);
    await fresh.open();
    await expect.poll(() => fresh.text, { timeout: 5000 }).toBe(c.text);
  });
});

/** Logs in as the admin created before a restart (the set-up link is not printed again). */
async function createFirstAdminLogin(on: TestServer): Promise<ApiClient> {
  const client = new ApiClient(on, '198.51.100.1');
  const res = await client.login('admin@kis.test', GOOD_PASSWORD);
  if (res.status !== 200) throw new Error(`admin login failed: ${JSON.stringify(res.body)}`);
  return client;
}

describe('versions and exports', () => {
  it('keeps a named version, shows it, and restores it for everyone editing', async () => {
    const created = await acme.main.post<DocumentView>('/api/documents', { title: 'Vertrag', forOrganization: true });
    const id = created.body.id;
    const a = await editor(acme.main, id);
    const b = await editor(admin, id);
    await a.open();
    await b.open();
    a.insert(0, 'Fassung eins.');
    await a.settled();
    const kept = await acme.main.post<{ id: string; name: string; kind: string }>(`/api/documents/${id}/versions`, {
      name: 'Vor der Verhandlung',
    });
    expect(kept.body).toMatchObject({ name: 'Vor der Verhandlung', kind: 'named' });

    a.insert(a.text.length, ' Nachtrag, der wieder weg soll.');
    await a.settled();
    await expect.poll(() => b.text, { timeout: 5000 }).toContain('Nachtrag');

    const shown = await acme.main.get<{ markdown: string }>(`/api/documents/${id}/versions/${kept.body.id}`);
    expect(shown.body.markdown).toContain('Fassung eins.');
    expect(shown.body.markdown).not.toContain('Nachtrag');

    expect((await acme.main.post(`/api/documents/${id}/versions/${kept.body.id}/restore`)).status).toBe(200);
    await expect.poll(() => b.text, { timeout: 5000 }).toBe('Fassung eins.');
    await expect.poll(() => a.text, { timeout: 5000 }).toBe('Fassung eins.');

    // The text as it was before the restore is kept too.
    const list = await acme.main.get<{ items: Array<{ id: string; name: string; kind: string }> }>(
      `/api/documents/${id}/versions`,
    );
    expect(list.body.items.map((v) => [v.kind, v.name])).toEqual([
      ['before_restore', 'Vor der Verhandlung'],
      ['named', 'Vor der Verhandlung'],
    ]);
    const before = await acme.main.get<{ markdown: string }>(`/api/documents/${id}/versions/${list.body.items[0]?.id}`);
    expect(before.body.markdown).toContain('Nachtrag');
    const log = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?pageSize=50');
    expect(log.body.items.map((e) => e.action)).toContain('document.version_restored');
  });

  it('exports a text as Markdown with its formatting and as a PDF', async () => {
    const created = await acme.main.post<DocumentView>('/api/documents', { title: 'Übergabe', forOrganization: true });
    const id = created.body.id;
    const a = await editor(acme.main, id);
    await a.open();
    a.doc.transact(() => {
      const fragment = a.fragment;
      const heading = new Y.XmlElement('heading');
      heading.setAttribute('level', '1' as never);
      const headingText = new Y.XmlText();
      headingText.insert(0, 'Schlüssel');
      heading.insert(0, [headingText]);
      const paragraph = new Y.XmlElement('paragraph');
      const text = new Y.XmlText();
      text.insert(0, 'Fach 3 ist ');
      text.insert(11, 'wichtig', { bold: {} });
      paragraph.insert(0, [text]);
      const list = new Y.XmlElement('bulletList');
      const item = new Y.XmlElement('listItem');
      const itemParagraph = new Y.XmlElement('paragraph');
      itemParagraph.insert(0, [new Y.XmlText('Erster Punkt')]);
      item.insert(0, [itemParagraph]);
      list.insert(0, [item]);
      fragment.insert(0, [heading, paragraph, list]);
    });
    expect((await a.settled()).every((r) => r.ok)).toBe(true);

    const md = await fetch(`${server.url}/api/documents/${id}/export?format=markdown`, {
      headers: { cookie: acme.main.cookie ?? '', 'x-forwarded-for': acme.main.ip },
    });
    expect(md.headers.get('content-disposition')).toContain('attachment');
    expect(await md.text()).toBe('# Übergabe\n\n## Schlüssel\n\nFach 3 ist **wichtig**\n\n- Erster Punkt\n');

    const pdf = await fetch(`${server.url}/api/documents/${id}/export?format=pdf`, {
      headers: { cookie: acme.main.cookie ?? '', 'x-forwarded-for': acme.main.ip },
    });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    const bytes = Buffer.from(await pdf.arrayBuffer());
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    const raw = bytes.toString('latin1');
    expect(raw).toMatch(/\/Type \/Page\b/);
    expect(raw.trimEnd().endsWith('%%EOF')).toBe(true);
  });
});
