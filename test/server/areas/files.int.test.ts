import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileList, FileView } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import {
  abortedUpload,
  connectSocket,
  countIn,
  download,
  nextAreaChange,
  storedFiles,
  upload,
} from '../../helpers/areas.js';
import { acceptInvitation, createSubAccount, customer, makeOrganization } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const MiB = 1024 * 1024;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_FILE_MAX_MB: '5', KIS_FILE_QUOTA_MB: '8', KIS_FILE_STALE_DAYS: '30' },
  });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

/** A real 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

describe('file area (area 4)', () => {
  let anna: ApiClient;

  beforeAll(async () => {
    anna = await customer(server, smtp, 'anna@files.example');
  });

  it('round-trips a file byte for byte, with its sha256, as an attachment that is never sniffed', async () => {
    const bytes = randomBytes(3 * MiB + 12_345);
    const sent = await upload<FileView>(anna, `/api/files?name=${encodeURIComponent('Angebot März.bin')}`, bytes);
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({
      name: 'Angebot März.bin',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      uploadedBy: 'owner',
      stale: false,
    });

    const list = await anna.get<FileList>('/api/files');
    expect(list.body.items.map((f) => f.name)).toEqual(['Angebot März.bin']);
    expect(list.body.usedBytes).toBe(bytes.length);
    expect(list.body.quotaBytes).toBe(8 * MiB);

    const got = await download(anna, `/api/files/${sent.body.id}`);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(bytes)).toBe(true);
    expect(got.headers.get('content-disposition')).toBe(
      `attachment; filename="Angebot M_rz.bin"; filename*=UTF-8''Angebot%20M%C3%A4rz.bin`,
    );
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
  });

  it('takes an empty file and gives it back empty', async () => {
    const empty = await upload<FileView>(anna, '/api/files?name=leer.txt', new Uint8Array(0));
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ size: 0, sha256: createHash('sha256').digest('hex') });
    const got = await download(anna, `/api/files/${empty.body.id}`);
    expect(got.status).toBe(200);
    expect(got.bytes.length).toBe(0);
    expect((await anna.request('DELETE', `/api/files/${empty.body.id}`)).status).toBe(200);
  });

  it('stores the type the content has, not the one the client claims', async () => {
    const png = await upload<FileView>(anna, '/api/files?name=bild.html', PNG, 'text/html');
    expect(png.body.contentType).toBe('image/png');
    const page = await upload<FileView>(
      anna,
      '/api/files?name=bild.png',
      Buffer.from('<html><script>alert(document.cookie)</script></html>'),
      'image/png',
    );
    expect(page.body.contentType).toBe('text/plain; charset=utf-8');
    const got = await download(anna, `/api/files/${page.body.id}`);
    expect(got.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(got.headers.get('content-security-policy')).toContain('sandbox');
  });

  it.each([
    ['a path', '../../etc/passwd'],
    ['a Windows path', 'C:\\Users\\x.txt'],
    ['a control character', 'rechnung\u0000.pdf'],
    ['a line break', 'zeile\nzwei.txt'],
    ['a right-to-left override', 'rechnung\u202Efdp.exe'],
    ['only dots', '..'],
  ])('refuses a file name with %s and keeps nothing', async (_what, name) => {
    const before = await storedFiles(server);
    const res = await upload(anna, `/api/files?name=${encodeURIComponent(name)}`, Buffer.from('x'));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'file_name_invalid' } });
    expect(await storedFiles(server)).toBe(before);
  });

  it("answers another user's file id with 404, not 403, and leaves the file alone", async () => {
    const bert = await customer(server, smtp, 'bert@files.example');
    const own = await upload<FileView>(bert, '/api/files?name=geheim.txt', Buffer.from('nur für Bert'));
    expect((await download(anna, `/api/files/${own.body.id}`)).status).toBe(404);
    expect((await anna.request('DELETE', `/api/files/${own.body.id}`)).status).toBe(404);
    expect(
      (await anna.get(`/api/files?userId=${(await bert.get<{ id: string }>('/api/account')).body.id}`)).status,
    ).toBe(404);
    expect((await download(anna, '/api/files/000000000000000000000000')).status).toBe(404);
    expect((await download(bert, `/api/files/${own.body.id}`)).bytes.toString()).toBe('nur für Bert');
  });

  it('refuses uploads over the quota or the size limit and leaves nothing partial in the store', async () => {
    const carla = await customer(server, smtp, 'carla@files.example');
    expect((await upload(carla, '/api/files?name=a.bin', randomBytes(4 * MiB))).status).toBe(200);
    expect((await upload(carla, '/api/files?name=b.bin', randomBytes(3 * MiB))).status).toBe(200);
    const held = await storedFiles(server);

    const over = await upload(carla, '/api/files?name=c.bin', randomBytes(2 * MiB));
    expect(over.status).toBe(413);
    expect(over.body).toMatchObject({ error: { code: 'quota_exceeded' } });

    const huge = await upload(anna, '/api/files?name=gross.bin', randomBytes(5 * MiB + 1));
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ error: { code: 'file_too_large' } });

    expect(await storedFiles(server)).toBe(held);
    const list = await carla.get<FileList>('/api/files');
    expect(list.body.items).toHaveLength(2);
    expect(list.body.usedBytes).toBe(7 * MiB);
  });

  it('removes an upload cut off mid-way and gives its reserved space back', async () => {
    const dora = await customer(server, smtp, 'dora@files.example');
    const held = await storedFiles(server);
    await abortedUpload(dora, '/api/files?name=abgebrochen.bin', 4 * MiB, 2 * MiB);
    await expect
      .poll(async () => countIn(server, 'area_files', { name: 'abgebrochen.bin' }), { timeout: 10_000 })
      .toBe(0);
    await expect.poll(() => storedFiles(server), { timeout: 5000 }).toBe(held);
    // The record goes first (so nothing is released twice), the reservation right after.
    await expect.poll(async () => (await dora.get<FileList>('/api/files')).body.usedBytes, { timeout: 5000 }).toBe(0);
    expect((await dora.get<FileList>('/api/files')).body.items).toEqual([]);
    // The space is free again: a file of the full quota's half fits twice.
    expect((await upload(dora, '/api/files?name=a.bin', randomBytes(4 * MiB))).status).toBe(200);
    expect((await upload(dora, '/api/files?name=b.bin', randomBytes(4 * MiB))).status).toBe(200);
  });

  it('refuses an upload without a declared length', async () => {
    const res = await fetch(`${server.url}/api/files?name=stream.bin`, {
      method: 'POST',
      headers: {
        'x-forwarded-for': anna.ip,
        cookie: anna.cookie ?? '',
        'x-csrf-token': anna.csrfToken ?? '',
        'content-type': 'application/octet-stream',
      },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array(10));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('length_required');
  });

  it('lets the owner delete a file and frees its space', async () => {
    const sent = await upload<FileView>(anna, '/api/files?name=weg.txt', Buffer.from('bald weg'));
    const before = (await anna.get<FileList>('/api/files')).body.usedBytes;
    expect((await anna.request('DELETE', `/api/files/${sent.body.id}`)).status).toBe(200);
    expect((await download(anna, `/api/files/${sent.body.id}`)).status).toBe(404);
    expect((await anna.get<FileList>('/api/files')).body.usedBytes).toBe(before - 8);
  });

  it('tells the user live and by mail when an operator puts a file into their area', async () => {
    const emil = await customer(server, smtp, 'emil@files.example');
    const emilId = (await emil.get<{ id: string }>('/api/account')).body.id;
    const socket = await connectSocket(server, emil);
    try {
      const changed = nextAreaChange(socket, 'files');
      const since = smtp.mails.length;
      const put = await upload<FileView>(
        admin,
        `/api/files?name=Vertrag.pdf&userId=${emilId}`,
        Buffer.from('%PDF-1.4\n'),
      );
      expect(put.status).toBe(200);
      expect(put.body.uploadedBy).toBe('operator');
      await changed;
      const mail = await smtp.waitFor('emil@files.example', /Neue Datei/, { since });
      expect(mail.text).toContain('Vertrag.pdf');
      const list = await emil.get<FileList>('/api/files');
      expect(list.body.items.map((f) => [f.name, f.uploadedBy])).toEqual([['Vertrag.pdf', 'operator']]);
    } finally {
      socket.close();
    }
  });

  it('downloads as the identity a link names, for browsers holding several identities', async () => {
    // One browser: Anna in slot 0, Fritz in slot 1. A download link sends no headers, so it names the slot.
    const browser = new ApiClient(server, '192.0.2.240');
    browser.identity = 0;
    expect((await browser.login('anna@files.example', GOOD_PASSWORD)).status).toBe(200);
    await customer(server, smtp, 'fritz@files.example');
    browser.identity = 1;
    expect((await browser.login('fritz@files.example', GOOD_PASSWORD)).status).toBe(200);
    const sent = await upload<FileView>(browser, '/api/files?name=fritz.txt', Buffer.from('von Fritz'), undefined, {
      'x-kis-identity': '1',
    });
    expect(sent.status).toBe(200);
    browser.identity = undefined;
    expect((await download(browser, `/api/files/${sent.body.id}?identity=1`)).bytes.toString()).toBe('von Fritz');
    expect((await download(browser, `/api/files/${sent.body.id}`)).status).toBe(404);
  });

  it('writes uploads, downloads and deletions to the audit log', async () => {
    const res = await admin.get<{ items: Array<{ action: string; actorEmail: string; target: string }> }>(
      '/api/admin/audit?action=file.downloaded&pageSize=100',
    );
    expect(res.body.items.some((e) => e.actorEmail === 'anna@files.example' && e.target === 'Angebot März.bin')).toBe(
      true,
    );
    const deleted = await admin.get<{ items: Array<{ target: string }> }>('/api/admin/audit?action=file.deleted');
    expect(deleted.body.items.map((e) => e.target)).toContain('weg.txt');
  });
});

describe('file rights of sub-accounts', () => {
  it('refuses a sub-account without the file right and admits it once given', async () => {
    const { org, main } = await makeOrganization(server, smtp, admin, 'Datei GmbH', 'chef@datei.example');
    const subId = await createSubAccount(main, org.id, {
      email: 'lager@datei.example',
      name: 'Lager',
      rights: ['read_areas'],
      redirectToMain: false,
    });
    const sub = await acceptInvitation(server, smtp, 'lager@datei.example');
    expect((await sub.get('/api/files')).status).toBe(403);
    const refused = await upload(sub, '/api/files?name=x.txt', Buffer.from('x'));
    expect(refused.status).toBe(403);

    // The main account works in its own area without further rights.
    expect((await upload(main, '/api/files?name=chef.txt', Buffer.from('chef'))).status).toBe(200);

    const granted = await main.request('PATCH', `/api/sub-accounts/${subId}`, {
      rights: ['read_areas', 'manage_files'],
      password: 'Ein langes Passwort für Tests 7',
    });
    expect(granted.status).toBe(200);
    expect((await upload(sub, '/api/files?name=x.txt', Buffer.from('x'))).status).toBe(200);
    expect((await sub.get<FileList>('/api/files')).body.items.map((f) => f.name)).toEqual(['x.txt']);

    // Deleting the sub-account takes its file area with it: no record, no bytes left.
    expect(await countIn(server, 'area_files', { ownerUserId: subId })).toBe(1);
    expect((await main.request('DELETE', `/api/sub-accounts/${subId}`)).status).toBe(200);
    expect(await countIn(server, 'area_files', { ownerUserId: subId })).toBe(0);
    expect(await countIn(server, 'area_file_quotas', { _id: subId })).toBe(0);
  });
});

describe('uploads at the same moment', () => {
  it('takes ten first uploads of a new user at once', async () => {
    const gustav = await customer(server, smtp, 'gustav@files.example');
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => upload(gustav, `/api/files?name=teil-${i}.txt`, Buffer.from(`Teil ${i}`))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 10 }, () => 200));
    const list = await gustav.get<FileList>('/api/files');
    expect(list.body.total).toBe(10);
    expect(list.body.usedBytes).toBe(answers.reduce((sum, a) => sum + Number((a.body as { size: number }).size), 0));
  });
});
