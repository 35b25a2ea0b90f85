import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AreaSummary, FileView, InfoEntry, InfoList } from '@kis/protocol/api';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { connectSocket, download, nextAreaChange, upload } from '../../helpers/areas.js';
import { acceptInvitation, customer, makeOrganization, type Org } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

const titles = (list: InfoList): string[] => list.items.map((e) => e.title);

describe('area 1: information for one person', () => {
  let anna: ApiClient;

  beforeAll(async () => {
    anna = await customer(server, smtp, 'anna@person.example');
  });

  it('shows a new entry live, unread, with a badge count, and mails the person', async () => {
    const socket = await connectSocket(server, anna);
    try {
      const changed = nextAreaChange(socket, 'personal');
      const since = smtp.mails.length;
      const created = await admin.post<InfoEntry>('/api/information', {
        scope: 'person',
        email: 'Anna@Person.example',
        title: 'Ihr Wartungsvertrag',
        body: '# Vertrag\n\nGültig ab **1. Januar**.',
      });
      expect(created.status).toBe(200);
      await changed;
      const list = await anna.get<InfoList>('/api/information?scope=person');
      expect(list.body).toMatchObject({ total: 1, unread: 1, items: [{ title: 'Ihr Wartungsvertrag', unread: true }] });
      expect((await anna.get<AreaSummary>('/api/areas/summary')).body.personalUnread).toBe(1);
      expect((await smtp.waitFor('anna@person.example', /Neue Information/, { since })).text).toContain(
        'Ihr Wartungsvertrag',
      );

      expect((await anna.post(`/api/information/${created.body.id}/read`)).status).toBe(200);
      expect((await anna.get<InfoList>('/api/information?scope=person')).body).toMatchObject({
        unread: 0,
        items: [{ unread: false }],
      });
    } finally {
      socket.close();
    }
  });

  it('marks a changed entry unread again and keeps every previous version', async () => {
    const created = await admin.post<InfoEntry>('/api/information', {
      scope: 'person',
      email: 'anna@person.example',
      title: 'Termin',
      body: 'Montag',
    });
    await anna.post(`/api/information/${created.body.id}/read`);
    const changed = await admin.request<InfoEntry>('PATCH', `/api/information/${created.body.id}`, {
      body: 'Dienstag',
      version: 1,
    });
    expect(changed.body).toMatchObject({ version: 2, body: 'Dienstag' });
    const again = await admin.request<InfoEntry>('PATCH', `/api/information/${created.body.id}`, {
      title: 'Termin (verschoben)',
      version: 2,
    });
    expect(again.body.version).toBe(3);

    // An edit made from an old version is refused instead of overwriting the newer one.
    const stale = await admin.request('PATCH', `/api/information/${created.body.id}`, { body: 'Mittwoch', version: 2 });
    expect(stale.status).toBe(409);

    const entry = (await anna.get<InfoList>('/api/information?scope=person')).body.items.find(
      (e) => e.id === created.body.id,
    );
    expect(entry).toMatchObject({ title: 'Termin (verschoben)', body: 'Dienstag', unread: true });
    const versions = await admin.get<{ items: Array<{ version: number; title: string; body: string }> }>(
      `/api/information/${created.body.id}/versions`,
    );
    expect(versions.body.items.map((v) => [v.version, v.title, v.body])).toEqual([
      [2, 'Termin', 'Dienstag'],
      [1, 'Termin', 'Montag'],
    ]);
  });

  it('keeps entries for an address that registers later and shows them after registration', async () => {
    const created = await admin.post<InfoEntry>('/api/information', {
      scope: 'person',
      email: 'neu@person.example',
      title: 'Willkommen',
      body: 'Schön, dass Sie da sind.',
    });
    expect(created.status).toBe(200);
    const listed = await admin.get<InfoList>('/api/information?scope=person&email=neu@person.example');
    expect(titles(listed.body)).toEqual(['Willkommen']);

    const neu = await customer(server, smtp, 'neu@person.example');
    expect(titles((await neu.get<InfoList>('/api/information?scope=person')).body)).toEqual(['Willkommen']);
    // Nobody else sees it.
    expect(titles((await anna.get<InfoList>('/api/information?scope=person')).body)).not.toContain('Willkommen');
    expect((await anna.post(`/api/information/${created.body.id}/read`)).status).toBe(404);
  });

  it('serves attachments to the person only, and deleting an entry removes them', async () => {
    const created = await admin.post<InfoEntry>('/api/information', {
      scope: 'person',
      email: 'anna@person.example',
      title: 'Mit Anhang',
      body: 'Siehe Anhang.',
    });
    const file = await upload<FileView>(
      admin,
      `/api/information/${created.body.id}/attachments?name=Plan.pdf`,
      Buffer.from('%PDF-1.4 Plan'),
    );
    expect(file.status).toBe(200);
    const entry = (await anna.get<InfoList>('/api/information?scope=person')).body.items.find(
      (e) => e.id === created.body.id,
    );
    expect(entry?.attachments.map((a) => a.name)).toEqual(['Plan.pdf']);
    const got = await download(anna, `/api/information/${created.body.id}/attachments/${file.body.id}`);
    expect(got.bytes.toString()).toBe('%PDF-1.4 Plan');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment;/);

    const stranger = await customer(server, smtp, 'fremd@person.example');
    expect((await download(stranger, `/api/information/${created.body.id}/attachments/${file.body.id}`)).status).toBe(
      404,
    );

    expect((await admin.request('DELETE', `/api/information/${created.body.id}`)).status).toBe(200);
    expect((await download(anna, `/api/information/${created.body.id}/attachments/${file.body.id}`)).status).toBe(404);
    expect(titles((await anna.get<InfoList>('/api/information?scope=person')).body)).not.toContain('Mit Anhang');
  });

  it('lets only operators write, change and delete', async () => {
    const own = (await anna.get<InfoList>('/api/information?scope=person')).body.items[0];
    expect(
      (await anna.post('/api/information', { scope: 'person', email: 'anna@person.example', title: 'x', body: '' }))
        .status,
    ).toBe(403);
    expect((await anna.request('PATCH', `/api/information/${own?.id}`, { body: 'x', version: 1 })).status).toBe(403);
    expect((await anna.request('DELETE', `/api/information/${own?.id}`)).status).toBe(403);
  });
});

describe('area 2: information for a company domain', () => {
  let acme: { org: Org; main: ApiClient };
  let bea: ApiClient;
  let carl: ApiClient;
  let gmailUser: ApiClient;

  beforeAll(async () => {
    acme = await makeOrganization(server, smtp, admin, 'Acme GmbH', 'chef@acme.example');
    expect(
      (await admin.post(`/api/admin/organizations/${acme.org.id}/domains`, { domain: 'acme.example' })).status,
    ).toBe(200);
    await makeOrganization(server, smtp, admin, 'Other AG', 'chef@other.example').then(({ org }) =>
      admin.post(`/api/admin/organizations/${org.id}/domains`, { domain: 'other.example' }),
    );
    // Bea is of the domain but in no organization: the domain decides.
    bea = await customer(server, smtp, 'bea@acme.example');
    carl = await customer(server, smtp, 'carl@other.example');
    gmailUser = await customer(server, smtp, 'acme.fan@gmail.com');
  });

  it('shows a domain entry to everybody of the domain, live, and to nobody else', async () => {
    const socket = await connectSocket(server, bea);
    try {
      const changed = nextAreaChange(socket, 'company');
      const created = await admin.post<InfoEntry>('/api/information', {
        scope: 'domain',
        domain: 'acme.example',
        title: 'Betriebsferien',
        body: 'Vom 23.12. bis 2.1. geschlossen.',
      });
      expect(created.status).toBe(200);
      await changed;
    } finally {
      socket.close();
    }
    expect(titles((await bea.get<InfoList>('/api/information?scope=domain')).body)).toEqual(['Betriebsferien']);
    expect(titles((await acme.main.get<InfoList>('/api/information?scope=domain')).body)).toEqual(['Betriebsferien']);
    expect((await bea.get<AreaSummary>('/api/areas/summary')).body).toMatchObject({
      companyDomain: 'acme.example',
      companyUnread: 1,
    });
    expect((await carl.get<InfoList>('/api/information?scope=domain')).body.items).toEqual([]);
    expect((await gmailUser.get<InfoList>('/api/information?scope=domain')).body.items).toEqual([]);
    expect((await gmailUser.get<AreaSummary>('/api/areas/summary')).body.companyDomain).toBeNull();
  });

  it('counts a plus-address by its domain', async () => {
    await acme.main.post(`/api/organizations/${acme.org.id}/sub-accounts`, {
      email: 'chef+lager@acme.example',
      name: 'Lager',
      rights: ['read_areas'],
      redirectToMain: true,
    });
    const lager = await acceptInvitation(server, smtp, 'chef+lager@acme.example');
    expect(titles((await lager.get<InfoList>('/api/information?scope=domain')).body)).toEqual(['Betriebsferien']);
  });

  it('refuses public mail domains and domains no operator confirmed', async () => {
    for (const domain of ['gmail.com', 'gmx.de', 'web.de', 't-online.de', 'outlook.com']) {
      const res = await admin.post('/api/information', { scope: 'domain', domain, title: 'x', body: '' });
      expect(res.body).toMatchObject({ error: { code: 'domain_public' } });
    }
    const unconfirmed = await admin.post('/api/information', {
      scope: 'domain',
      domain: 'unbekannt.example',
      title: 'x',
      body: '',
    });
    expect(unconfirmed.body).toMatchObject({ error: { code: 'domain_not_confirmed' } });
  });

  it('hides the company area from a sub-account without the read right', async () => {
    await acme.main.post(`/api/organizations/${acme.org.id}/sub-accounts`, {
      email: 'azubi@acme.example',
      name: 'Azubi',
      rights: ['manage_files'],
      redirectToMain: false,
    });
    const azubi = await acceptInvitation(server, smtp, 'azubi@acme.example');
    expect((await azubi.get('/api/information?scope=domain')).status).toBe(403);
    expect((await azubi.get('/api/information?scope=person')).status).toBe(403);
    expect((await azubi.get<AreaSummary>('/api/areas/summary')).body).toMatchObject({
      mayRead: false,
      mayManageFiles: true,
    });
  });

  it('writes every change to the audit log', async () => {
    const res = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?pageSize=100');
    const actions = new Set(res.body.items.map((e) => e.action));
    for (const action of ['info.created', 'info.updated', 'info.deleted', 'info.attachment_added'])
      expect(actions).toContain(action);
  });
});
