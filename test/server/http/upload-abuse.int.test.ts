import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import zlib from 'node:zlib';
import yauzl from 'yauzl';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FileList, FileView, InfoEntry } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { countIn, download, storedFiles, upload } from '../../helpers/areas.js';
import { customer } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

/**
 * Hostile uploads against every path that takes a body: the file exchange (area 4), attachments of
 * information entries, JSON bodies, and the operators' legacy import; and a zip bomb carried
 * through the data export. Each attack must end in a clear 4xx, leave nothing behind, and leave
 * the server serving.
 */

const MiB = 1024 * 1024;
const FILE_MAX_MB = 8;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let mara: ApiClient;
/** An information entry for Mara, to attach files to. */
let entryId: string;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_FILE_MAX_MB: String(FILE_MAX_MB), KIS_FILE_QUOTA_MB: '64' },
  });
  admin = await createFirstAdmin(server);
  mara = await customer(server, smtp, 'mara@abuse.example');
  const entry = await admin.post<InfoEntry>('/api/information', {
    scope: 'person',
    email: 'mara@abuse.example',
    title: 'Unterlagen',
    body: '',
  });
  expect(entry.status).toBe(200);
  entryId = entry.body.id;
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Resident and peak memory of the server process in MiB; `resetPeak` starts a new peak (Linux clear_refs). */
async function serverMemory(options: { resetPeak?: boolean } = {}): Promise<{ rss: number; peak: number }> {
  const pid = server.process.pid ?? 0;
  if (options.resetPeak) await writeFile(`/proc/${pid}/clear_refs`, '5');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** What the server holds of uploaded files: records, and bytes in its store. */
async function stored(): Promise<{ records: number; files: number }> {
  return { records: await countIn(server, 'area_files'), files: await storedFiles(server) };
}

/** The server still answers, a login still works, and the process is alive. */
async function expectServing(): Promise<void> {
  expect(server.process.exitCode).toBeNull();
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  expect((await new ApiClient(server, '198.51.100.77').login('mara@abuse.example', GOOD_PASSWORD)).status).toBe(200);
}

/** How a body streamed at the server ended. */
interface Streamed {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  /** Body bytes the client had written when the answer arrived (it stops sending then). */
  sentBeforeAnswer: number;
  /** The server closed the connection after answering, instead of reading on. */
  closedByServer: boolean;
}

/**
 * Streams `total` bytes of body in `chunk`s to the server over a raw socket, as a client that does
 * not give up easily: it stops only when the answer arrives, and reads that answer even when the
 * server cuts the connection under its writes. Declares the length unless `chunked`.
 */
function streamBody(
  client: ApiClient,
  path: string,
  options: { total: number; chunk: Buffer; headers?: Record<string, string>; chunked?: boolean },
): Promise<Streamed> {
  const { port } = new URL(server.url);
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    'x-forwarded-for': client.ip,
    'content-type': 'application/octet-stream',
    ...(options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(options.total) }),
    ...(client.cookie ? { cookie: client.cookie } : {}),
    ...(client.csrfToken ? { 'x-csrf-token': client.csrfToken } : {}),
    ...options.headers,
  };
  const head = `POST ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let sent = 0;
    let received = Buffer.alloc(0);
    let answer: Omit<Streamed, 'closedByServer' | 'body'> | undefined;
    /** Where the answer's body starts in `received`, and how long it is. */
    let body = { start: 0, length: 0 };
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (!answer) return reject(new Error(`no answer after ${sent} bytes: ${received.toString()}`));
      const text = received.subarray(body.start, body.start + body.length).toString();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      resolve({ ...answer, body: parsed, closedByServer });
    };
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
      if (!answer) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = received.subarray(0, end).toString().split('\r\n');
        const fields = Object.fromEntries(
          lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        );
        answer = { status: Number(lines[0]?.split(' ')[1]), headers: fields, sentBeforeAnswer: sent };
        body = { start: end + 4, length: Number(fields['content-length'] ?? 0) };
      }
      if (received.length >= body.start + body.length) {
        // The whole answer is there: does the server hang up, or wait for more of the body?
        setTimeout(() => finish(false), 1000);
      }
    });
    // The server's FIN (it hangs up after answering) or its reset.
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    // A reset under our writes is the server cutting the upload off; the answer decides.
    socket.on('error', () => undefined);
    const pump = (): void => {
      while (!answer && !socket.destroyed && sent < options.total) {
        const piece = options.chunk.subarray(0, Math.min(options.chunk.length, options.total - sent));
        sent += piece.length;
        const framed = options.chunked
          ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
          : piece;
        if (!socket.write(framed)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!answer && !socket.destroyed && sent >= options.total && options.chunked) socket.write('0\r\n\r\n');
    };
    socket.once('connect', () => {
      socket.write(head);
      pump();
    });
  });
}

/** Reads a ZIP fully: entry names with their contents and the sizes their headers declare. */
function unzip(bytes: Buffer): Promise<Map<string, { data: Buffer; declared: number }>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out = new Map<string, { data: Buffer; declared: number }>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            out.set(entry.fileName, { data: Buffer.concat(chunks), declared: entry.uncompressedSize });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}

/** The entries a ZIP's central directory declares, without inflating anything. */
function zipDirectory(bytes: Buffer): Promise<Array<{ name: string; compressed: number; uncompressed: number }>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out: Array<{ name: string; compressed: number; uncompressed: number }> = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        out.push({ name: entry.fileName, compressed: entry.compressedSize, uncompressed: entry.uncompressedSize });
        zip.readEntry();
      });
      zip.on('end', () => resolve(out));
      zip.readEntry();
    });
  });
}

/**
 * A ZIP of a few MB holding one entry that inflates to `blocks` × 16 MiB of zeros: one deflate
 * block of 16 MiB, ended by a full flush so it can be repeated, then an empty final block. The
 * entry is named `[Content_Types].xml`, which makes type sniffers look inside. Its CRC is not
 * computed (that would take reading gigabytes): nothing must ever inflate it far enough to check.
 */
function zipBomb(blocks: number): { zip: Buffer; inflated: number; deflated: Buffer; block: Buffer } {
  const block = zlib.deflateRawSync(Buffer.alloc(16 * MiB), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const deflated = Buffer.concat([...Array.from({ length: blocks }, () => block), Buffer.from([0x03, 0x00])]);
  const inflated = blocks * 16 * MiB;
  const name = Buffer.from('[Content_Types].xml');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(inflated, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4); // made by
  central.writeUInt16LE(20, 6); // version needed
  central.writeUInt16LE(8, 10); // deflate
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(inflated, 24);
  central.writeUInt16LE(name.length, 28);
  const directoryAt = local.length + name.length + deflated.length;
  const directorySize = central.length + name.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(directorySize, 12);
  end.writeUInt32LE(directoryAt, 16);
  return { zip: Buffer.concat([local, name, deflated, central, name, end]), inflated, deflated, block };
}

/** Whether raw deflate data really inflates to at least `bytes` (stops reading there). */
async function inflatesTo(deflated: Buffer, bytes: number): Promise<boolean> {
  const inflate = zlib.createInflateRaw();
  inflate.end(deflated);
  let out = 0;
  for await (const chunk of inflate) {
    out += (chunk as Buffer).length;
    if (out >= bytes) {
      inflate.destroy();
      return true;
    }
  }
  return false;
}

/** Direct POST of a body as text (the legacy import takes the file as the body). */
async function postImport(
  query: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: ImportReport }> {
  const res = await fetch(`${server.url}/api/admin/legacy/import?${query}`, {
    method: 'POST',
    headers: {
      'content-type': 'text/csv',
      'x-forwarded-for': admin.ip,
      cookie: admin.cookie ?? '',
      'x-csrf-token': admin.csrfToken ?? '',
      ...headers,
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as ImportReport };
}

interface ImportReport {
  lines: number;
  accounts: { create: number; update: number; unchanged: number };
  problems: Array<{ line: number; field: string; code: string; message: string }>;
  written: boolean;
}

/** Accounts and legacy logins the database holds. */
async function accounts(): Promise<{ users: number; logins: number }> {
  return { users: await countIn(server, 'users'), logins: await countIn(server, 'legacy_logins') };
}

let logsBefore = 0;
beforeEach(() => {
  logsBefore = server.logs.length;
});
afterEach(() => {
  // No attack may end in an internal error: those are logged at level error (50) or worse.
  const failures = server.logs.slice(logsBefore).filter((entry) => Number(entry.level) >= 50);
  expect(failures).toEqual([]);
});

describe('huge uploads', () => {
  it.each([
    ['into the file area', (): [ApiClient, string] => [mara, '/api/files?name=riesig.bin']],
    [
      'as an attachment of an entry',
      (): [ApiClient, string] => [admin, `/api/information/${entryId}/attachments?name=riesig.bin`],
    ],
  ])(
    'refuses a streamed 512 MiB upload %s with 413 before reading it, keeps nothing and takes the next file',
    async (_where, target) => {
      const [client, path] = target();
      const before = await stored();
      const usedBefore = (await mara.get<FileList>('/api/files')).body.usedBytes;
      const memory = await serverMemory({ resetPeak: true });
      const res = await streamBody(client, path, { total: 512 * MiB, chunk: Buffer.alloc(MiB, 1) });
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ error: { code: 'file_too_large', message: expect.any(String) } });
      // Refused on the declared length: the answer came while the client had sent a sliver, and
      // the server hung up instead of swallowing the other half gigabyte.
      expect(res.sentBeforeAnswer).toBeLessThan(64 * MiB);
      expect(res.closedByServer).toBe(true);
      expect((await serverMemory()).peak - memory.rss).toBeLessThan(64);
      expect(await stored()).toEqual(before);
      expect((await mara.get<FileList>('/api/files')).body.usedBytes).toBe(usedBefore);

      const bytes = Buffer.alloc(2 * MiB, 2);
      const normal = await upload<FileView>(client, path.replace('riesig.bin', 'normal.bin'), bytes);
      expect(normal.status).toBe(200);
      expect(normal.body).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
      await expectServing();
    },
  );

  it('refuses an endless upload without a declared length before reading it, and keeps nothing', async () => {
    const before = await stored();
    const res = await streamBody(mara, '/api/files?name=endlos.bin', {
      total: 512 * MiB,
      chunk: Buffer.alloc(MiB, 3),
      chunked: true,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'length_required', message: expect.stringMatching(/Content-Length/) } });
    expect(res.sentBeforeAnswer).toBeLessThan(64 * MiB);
    expect(res.closedByServer).toBe(true);
    expect(await stored()).toEqual(before);
    await expectServing();
  });
});

describe('JSON bodies', () => {
  it.each([
    ['with its length declared', false],
    ['sent in chunks without a length', true],
  ])('refuses a 256 MiB JSON body %s with 413, every time, and stops reading it', async (_how, chunked) => {
    const memory = await serverMemory({ resetPeak: true });
    // Ten times: a server that hangs up under the client's writes loses its answer now and then.
    for (let attempt = 0; attempt < 10; attempt++) {
      const res = await streamBody(new ApiClient(server, '198.51.100.20'), '/api/auth/login', {
        total: 256 * MiB,
        chunk: Buffer.alloc(MiB, 0x20),
        chunked,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(413);
      expect(res.body).toEqual({
        error: { code: 'fst_err_ctp_body_too_large', message: 'Request body is too large' },
      });
      expect(res.sentBeforeAnswer).toBeLessThan(64 * MiB);
      expect(res.closedByServer).toBe(true);
    }
    expect((await serverMemory()).peak - memory.rss).toBeLessThan(64);
    await expectServing();
  });

  it('answers a gzip bomb as a JSON body with 400 without inflating it', async () => {
    const inflated = Buffer.concat([Buffer.from('{"email":"'), Buffer.alloc(100 * MiB, 0x61), Buffer.from('"}')]);
    const bomb = zlib.gzipSync(inflated, { level: 9 });
    expect(bomb.length).toBeLessThan(200 * 1024);
    const memory = await serverMemory({ resetPeak: true });
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-forwarded-for': '198.51.100.22' },
      body: bomb,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: 'fst_err_ctp_invalid_json_body', message: expect.stringMatching(/not valid JSON/) },
    });
    // 100 MB inflated would show; the compressed 100 KB do not.
    expect((await serverMemory()).peak - memory.rss).toBeLessThan(50);
    await expectServing();
  });
});

describe('content that lies about its type', () => {
  /** A Windows program: DOS stub header, PE signature at 0x80. */
  const EXE = Buffer.concat([
    Buffer.from('MZ'),
    Buffer.alloc(0x3a),
    Buffer.from([0x80, 0, 0, 0]),
    Buffer.alloc(0x40),
    Buffer.from('PE\0\0'),
    Buffer.alloc(256),
  ]);

  it('keeps a Windows program uploaded as rechnung.pdf (application/pdf) for what it is, as a download only', async () => {
    const sent = await upload<FileView>(mara, '/api/files?name=rechnung.pdf', EXE, 'application/pdf');
    expect(sent.status).toBe(200);
    expect(sent.body.contentType).toBe('application/x-msdownload');
    const got = await download(mara, `/api/files/${sent.body.id}`);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(EXE)).toBe(true);
    expect(got.headers.get('content-type')).toBe('application/x-msdownload');
    expect(got.headers.get('content-disposition')).toBe(
      `attachment; filename="rechnung.pdf"; filename*=UTF-8''rechnung.pdf`,
    );
    expect(got.headers.get('x-content-type-options')).toBe('nosniff');
    expect(got.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
  });

  const RENDERABLE = /^(text\/html|image\/svg\+xml|application\/xhtml\+xml|text\/xml)\b/;
  it.each([
    [
      'an SVG with a script and an XML prolog',
      'bild.svg',
      'image/svg+xml',
      '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
    ],
    [
      'an SVG with an onload handler',
      'logo.svg',
      'image/svg+xml',
      '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    ],
    ['an HTML page with a script', 'seite.html', 'text/html', '<!DOCTYPE html><html><script>alert(1)</script></html>'],
    [
      'an XHTML page with a script',
      'seite.xhtml',
      'application/xhtml+xml',
      '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    ],
  ])('never hands out %s as something a browser renders', async (_what, name, claimed, text) => {
    // Customers' own files, and operators' attachments that customers read: the same answer.
    const own = await upload<FileView>(mara, `/api/files?name=${name}`, Buffer.from(text), claimed);
    const attached = await upload<FileView>(
      admin,
      `/api/information/${entryId}/attachments?name=${name}`,
      Buffer.from(text),
      claimed,
    );
    for (const [sent, path] of [
      [own, `/api/files/${own.body.id}`],
      [attached, `/api/information/${entryId}/attachments/${attached.body.id}`],
    ] as const) {
      expect(sent.status).toBe(200);
      expect(sent.body.contentType).not.toMatch(RENDERABLE);
      const got = await download(mara, path);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(sent.body.contentType);
      expect(got.headers.get('content-disposition')).toMatch(/^attachment; /);
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');
      expect(got.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(got.bytes.toString()).toBe(text);
    }
  });
});

describe('a zip bomb', () => {
  it('carries a zip bomb through the data export and the download byte for byte, never inflating it', async () => {
    const bomb = zipBomb(255);
    // It is what it says: 4 GiB declared in a few MB, and the data really inflates that way.
    expect(await zipDirectory(bomb.zip)).toEqual([
      { name: '[Content_Types].xml', compressed: bomb.deflated.length, uncompressed: 255 * 16 * MiB },
    ]);
    expect(bomb.zip.length).toBeLessThan(FILE_MAX_MB * MiB);
    expect(await inflatesTo(bomb.deflated.subarray(0, bomb.block.length * 8), 128 * MiB)).toBe(true);

    const memory = await serverMemory({ resetPeak: true });
    const sent = await upload<FileView>(mara, '/api/files?name=bombe.zip', bomb.zip, 'application/zip');
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({
      size: bomb.zip.length,
      sha256: sha256(bomb.zip),
      contentType: 'application/zip',
    });

    const got = await download(mara, `/api/files/${sent.body.id}`);
    expect(got.status).toBe(200);
    expect(sha256(got.bytes)).toBe(sha256(bomb.zip));
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; filename="bombe.zip"/);

    const started = Date.now();
    const exported = await download(mara, '/api/account/export');
    expect(exported.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(exported.bytes.length).toBeLessThan(bomb.zip.length + MiB);
    const entries = await unzip(exported.bytes);
    const path = `dateien/${sent.body.id}-bombe.zip`;
    expect(sha256(entries.get(path)?.data ?? Buffer.alloc(0))).toBe(sha256(bomb.zip));
    const listed = JSON.parse(entries.get('dateien.json')?.data.toString() ?? '[]') as Array<
      FileView & { path: string }
    >;
    expect(listed).toContainEqual(expect.objectContaining({ path, size: bomb.zip.length, sha256: sha256(bomb.zip) }));
    // Inflating 4 GiB anywhere on the way would show in the server's memory.
    expect((await serverMemory()).peak - memory.rss).toBeLessThan(150);
    expect((await mara.request('DELETE', `/api/files/${sent.body.id}`)).status).toBe(200);
    await expectServing();
  });

  it('stores a gzip bomb sent with Content-Encoding: gzip as the compressed bytes it is', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(200 * MiB), { level: 9 });
    const memory = await serverMemory({ resetPeak: true });
    const sent = await upload<FileView>(mara, '/api/files?name=daten.gz', bomb, 'application/octet-stream', {
      'content-encoding': 'gzip',
    });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ size: bomb.length, sha256: sha256(bomb), contentType: 'application/gzip' });
    expect(sha256((await download(mara, `/api/files/${sent.body.id}`)).bytes)).toBe(sha256(bomb));
    expect((await serverMemory()).peak - memory.rss).toBeLessThan(100);
    expect((await mara.request('DELETE', `/api/files/${sent.body.id}`)).status).toBe(200);
  });
});

describe('file names that attack', () => {
  it.each([
    ['10,000 characters', 'a'.repeat(10_000), 'invalid', /querystring\.name/],
    ['300 bytes', `${'ä'.repeat(148)}.txt`, 'file_name_invalid', /255 bytes/],
  ])('refuses a name of %s with a clear error and keeps nothing', async (_what, name, code, message) => {
    const before = await stored();
    const res = await upload(mara, `/api/files?name=${encodeURIComponent(name)}`, Buffer.from('x'));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code, message: expect.stringMatching(message) } });
    expect(await stored()).toEqual(before);
  });

  it('refuses a right-to-left override in an attachment name too', async () => {
    const before = await stored();
    const res = await upload(
      admin,
      `/api/information/${entryId}/attachments?name=${encodeURIComponent('rechnung\u202Efdp.exe')}`,
      Buffer.from('MZ'),
    );
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'file_name_invalid' } });
    expect(await stored()).toEqual(before);
  });

  it.each([
    ['quotes and a second filename parameter', 'a"; filename="evil.html'],
    ['a percent sign and a semicolon', '100%; sicher.txt'],
    ['Cyrillic letters and an emoji', 'Счёт №5 🧾.pdf'],
    ['Windows reserved characters', 'CON:aux*?<>|.txt'],
  ])('gives a name with %s a Content-Disposition nobody can break out of', async (_what, name) => {
    const sent = await upload<FileView>(mara, `/api/files?name=${encodeURIComponent(name)}`, Buffer.from('inhalt'));
    expect(sent.status).toBe(200);
    expect(sent.body.name).toBe(name);
    const header = (await download(mara, `/api/files/${sent.body.id}`)).headers.get('content-disposition') ?? '';
    // attachment; filename="<printable ASCII without quote or backslash>"; filename*=UTF-8''<percent-encoded>
    const parts =
      /^attachment; filename="([\x20-\x21\x23-\x5b\x5d-\x7e]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]*)$/.exec(
        header,
      );
    expect(parts, header).not.toBeNull();
    expect(decodeURIComponent(parts?.[2] ?? '')).toBe(name);
    expect((await mara.request('DELETE', `/api/files/${sent.body.id}`)).status).toBe(200);
  });

  it('takes a name whose bytes are not UTF-8 without an internal error', async () => {
    // %ED%A0%80 is a UTF-16 surrogate encoded as UTF-8: no valid character.
    const res = await upload<FileView>(mara, '/api/files?name=%ED%A0%80bild.txt', Buffer.from('x'));
    expect([200, 400]).toContain(res.status);
    if (res.status === 200) {
      const got = await download(mara, `/api/files/${res.body.id}`);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-disposition')).toMatch(/^attachment; /);
      expect((await mara.request('DELETE', `/api/files/${res.body.id}`)).status).toBe(200);
    }
    await expectServing();
  });
});

describe('legacy import of hostile files', () => {
  it('refuses an import file over 20 MiB with 413 before reading it all, and imports nothing', async () => {
    const before = await accounts();
    const res = await streamBody(admin, '/api/admin/legacy/import?format=csv&dryRun=false', {
      total: 256 * MiB,
      chunk: Buffer.from('x;y;z\n'.repeat(MiB / 8)),
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { code: 'fst_err_ctp_body_too_large', message: 'Request body is too large' } });
    expect(res.sentBeforeAnswer).toBeLessThan(64 * MiB);
    expect(res.closedByServer).toBe(true);
    expect(await accounts()).toEqual(before);
    await expectServing();
  });

  it('answers 19 MiB of junk lines with one problem, quickly, and writes nothing', async () => {
    const before = await accounts();
    const memory = await serverMemory({ resetPeak: true });
    const started = Date.now();
    const res = await postImport('format=csv&dryRun=false', `username;company\n${';\n'.repeat(9.5 * MiB)}`);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      written: false,
      problems: [{ line: 0, field: 'file', code: 'too_many_lines', message: expect.stringMatching(/100000/) }],
    });
    expect((await serverMemory()).peak - memory.rss).toBeLessThan(200);
    expect(await accounts()).toEqual(before);

    const json = await postImport('format=json&dryRun=false', `[${'0,'.repeat(9.5 * MiB)}0]`, {
      'content-type': 'application/json',
    });
    expect(json.status).toBe(200);
    expect(json.body.problems.map((p) => p.code)).toEqual(['too_many_lines']);
    expect(await accounts()).toEqual(before);
    await expectServing();
  });

  it('lists at most 1000 problems of a bad file and says how many more there are', async () => {
    const res = await postImport('format=csv&dryRun=true', `username;company\n${';\n'.repeat(50_000)}`);
    expect(res.status).toBe(200);
    expect(res.body.written).toBe(false);
    expect(res.body.problems).toHaveLength(1001);
    expect(res.body.problems.at(-1)).toEqual({
      line: 0,
      field: 'file',
      code: 'more_problems',
      message: `${50_000 * 3 - 1000} more problems not listed`,
    });
  });

  it('takes a gzip-compressed import file as the bytes it is, without inflating it, and writes nothing', async () => {
    const before = await accounts();
    const csv = `username;displayName;company;main;rights;passwordHash;products\n${'x;y;z;ja;;h;p\n'.repeat(8 * MiB)}`;
    const bomb = zlib.gzipSync(csv, { level: 9 });
    const memory = await serverMemory({ resetPeak: true });
    const res = await postImport('format=csv&dryRun=false', bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.body.written).toBe(false);
    expect(res.body.problems.length).toBeGreaterThan(0);
    expect((await serverMemory()).peak - memory.rss).toBeLessThan(100);
    expect(await accounts()).toEqual(before);
    await expectServing();
  });
});
