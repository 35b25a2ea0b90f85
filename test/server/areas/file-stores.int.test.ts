import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MongoClient, ObjectId, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFileStore,
  SealedFileDamagedError,
  type FileRef,
  type FileStore,
  type FileStoreKind,
} from '../../../server/src/areas/storage/index.js';
import { TooLarge } from '../../../server/src/errors.js';
import { testDatabaseUri } from '../../helpers/server.js';

const MiB = 1024 * 1024;
let mongo: MongoClient;
let db: Db;
let dataDir: string;
const masterKey = randomBytes(32);

beforeAll(async () => {
  mongo = await MongoClient.connect(testDatabaseUri());
  db = mongo.db();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-file-stores-'));
});
afterAll(async () => {
  await mongo?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function storeOf(kind: FileStoreKind, key = masterKey): FileStore {
  return createFileStore(kind, { dataDir, masterKey: key, database: () => db });
}

/** The bytes as an upload delivers them: in pieces of uneven size. */
function pieces(bytes: Buffer, size = 64 * 1024 + 7): Readable {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) parts.push(bytes.subarray(at, at + size));
  return Readable.from(parts);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function put(store: FileStore, bytes: Buffer, maxBytes = bytes.length): Promise<FileRef> {
  const id = new ObjectId();
  const stored = await store.store(id, pieces(bytes), { maxBytes, name: 'x.bin' }, async () => undefined);
  return { id, size: stored.size, sha256: stored.sha256 };
}

/** Every sealed file of the disk store. */
async function sealedFiles(): Promise<string[]> {
  const root = path.join(dataDir, 'files');
  const found: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory() || entry.name === 'incoming') continue;
    for (const name of await readdir(path.join(root, entry.name))) found.push(path.join(root, entry.name, name));
  }
  return found;
}

describe.each(['disk', 'database'] as const)('the %s file store', (kind) => {
  let store: FileStore;
  beforeAll(async () => {
    store = storeOf(kind);
    await store.init();
  });

  it.each([0, 1, MiB, MiB + 1, 3 * MiB + 12_345])('gives back %i bytes as they were stored', async (size) => {
    const bytes = randomBytes(size);
    const ref = await put(store, bytes);
    expect(ref).toMatchObject({ size, sha256: sha(bytes) });
    expect(sha(await readAll(store.read(ref)))).toBe(sha(bytes));
  });

  it('tells a PDF by its bytes whatever the upload claims', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(5000)]);
    const stored = await store.store(
      new ObjectId(),
      pieces(pdf, 100),
      { maxBytes: pdf.length, name: 'a.txt' },
      async () => undefined,
    );
    expect(stored.contentType).toBe('application/pdf');
  });

  it('refuses more bytes than allowed and keeps nothing of them', async () => {
    const before = {
      disk: (await sealedFiles()).length,
      chunks: await db.collection('areafiles.chunks').countDocuments(),
    };
    const id = new ObjectId();
    await expect(
      store.store(id, pieces(randomBytes(2 * MiB)), { maxBytes: MiB, name: 'gross.bin' }, async () => undefined),
    ).rejects.toBeInstanceOf(TooLarge);
    expect((await sealedFiles()).length).toBe(before.disk);
    expect(await db.collection('areafiles.chunks').countDocuments()).toBe(before.chunks);
    expect(await readdir(path.join(dataDir, 'files', 'incoming')).catch(() => [])).toEqual([]);
  });

  it('fails the upload when its record cannot be committed', async () => {
    await expect(
      store.store(new ObjectId(), pieces(randomBytes(1000)), { maxBytes: 1000, name: 'a' }, async () => {
        throw new Error('record gone');
      }),
    ).rejects.toThrow('record gone');
  });

  it('removes the bytes of a deleted file, and reading them fails afterwards', async () => {
    const ref = await put(store, randomBytes(2 * MiB));
    expect(await store.holds(ref)).toBe(true);
    await store.remove(ref, async () => false);
    expect(await store.holds(ref)).toBe(false);
    await expect(readAll(store.read(ref))).rejects.toThrow();
  });
});

describe('the disk store', () => {
  it('keeps content encrypted: no plaintext and no content hash on the disk', async () => {
    const store = storeOf('disk');
    const text = Buffer.from('Der Schlüssel für Fach 3 liegt beim Hausmeister. '.repeat(2000));
    const ref = await put(store, text);
    const files = await sealedFiles();
    const mine = [];
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.includes(Buffer.from('Schlüssel'))).toBe(false);
      expect(path.basename(file)).not.toContain(ref.sha256);
      if (bytes.length > text.length) mine.push(file);
    }
    expect(mine.length).toBeGreaterThan(0);
    // Another master key cannot read it.
    await expect(readAll(storeOf('disk', randomBytes(32)).read(ref))).rejects.toThrow();
  });

  it('keeps equal content once, and while one record still holds it', async () => {
    const store = storeOf('disk');
    const bytes = randomBytes(300_000);
    const before = (await sealedFiles()).length;
    const first = await put(store, bytes);
    const second = await put(store, bytes);
    expect((await sealedFiles()).length).toBe(before + 1);
    await store.remove(first, async () => true);
    expect(sha(await readAll(store.read(second)))).toBe(sha(bytes));
    await store.remove(second, async () => false);
    expect((await sealedFiles()).length).toBe(before);
  });

  it('stops a download at a damaged segment before sending its bytes', async () => {
    const store = storeOf('disk');
    const bytes = randomBytes(3 * MiB);
    const ref = await put(store, bytes);
    // The sealed file of this content: header, 3 segments of 1 MiB, a tag each.
    let target = '';
    for (const candidate of await sealedFiles())
      if ((await readFile(candidate)).length === 24 + 3 * MiB + 3 * 16) target = candidate;
    expect(target).not.toBe('');
    const damaged = await readFile(target);
    damaged.writeUInt8(damaged.readUInt8(MiB + 100) ^ 1, MiB + 100); // inside the second segment
    await writeFile(target, damaged);
    const received: Buffer[] = [];
    await expect(
      (async () => {
        for await (const part of store.read(ref)) received.push(part as Buffer);
      })(),
    ).rejects.toBeInstanceOf(SealedFileDamagedError);
    // The first segment arrived intact, nothing of the damaged one.
    expect(Buffer.concat(received).equals(bytes.subarray(0, MiB))).toBe(true);

    await writeFile(target, damaged.subarray(0, damaged.length - 10));
    await expect(readAll(store.read(ref))).rejects.toBeInstanceOf(SealedFileDamagedError);
    await store.remove(ref, async () => false);
  });

  it('sweeps away bytes that no record names and keeps the rest', async () => {
    const store = storeOf('disk');
    const kept = await put(store, randomBytes(5000));
    await put(store, randomBytes(6000));
    const removed = await store.sweep(new Set([kept.sha256]));
    expect(removed).toBeGreaterThan(0);
    expect(await sealedFiles()).toHaveLength(1);
    expect(await store.holds(kept)).toBe(true);
  });
});
