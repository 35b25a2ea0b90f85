import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createGunzip, createGzip } from 'node:zlib';
import { BSON, type Db, type Document, type IndexDescription } from 'mongodb';
import { deriveKey } from '../crypto/tokens.js';
import { Pipe } from './pipe.js';

/**
 * Backups of the whole database (every collection, GridFS files included) and of the file bytes
 * kept outside it (the disk store's) in one encrypted, compressed file, and their restore.
 *
 * File format (version 2; version 1 is version 2 without files):
 * - `KISBACKUP1\n`, then a u32 length and a JSON header (format, time, key id, a random file id);
 * - records: u32 ciphertext length, 12-byte IV, ciphertext, 16-byte GCM tag. Each record's additional
 *   data is the header, the record's index and whether it is the last, so records cannot be
 *   reordered, swapped between files or cut off without the restore noticing;
 * - the plaintext of all records together is a gzip stream of lines: `{"c":name,"indexes":[…]}` opens
 *   a collection, `{"d":…}` is one document in canonical Extended JSON (types kept: ObjectId,
 *   Date, Binary); after the collections, `{"f":sha256,"size":n}` opens a stored file's bytes and
 *   `{"b":base64}` lines carry them (at most {@link FILE_PIECE_BYTES} each); `{"end":{name:count},
 *   "files":n}` closes the backup.
 *
 * The key is derived from the master key: a backup restores only where the same KIS_MASTER_KEY is.
 */

const MAGIC = Buffer.from('KISBACKUP1\n');
/** Plaintext per record: large enough for speed, small enough to keep memory flat. */
const RECORD_BYTES = 1024 * 1024;
/** The largest record a restore accepts: a corrupt length must not make it allocate gigabytes. */
const MAX_RECORD = RECORD_BYTES + 64 * 1024;
const INSERT_BATCH = 500;
/** Bytes of a stored file per backup line. */
const FILE_PIECE_BYTES = 512 * 1024;
/** Collections a restore stages into before they replace the live ones. */
const STAGING_PREFIX = '__restore__';
/** Where a restore notes that it swaps, so an interrupted swap can be finished. */
const JOURNAL = '__restore_journal';

export interface BackupHeader {
  format: 'kis-backup';
  version: 1 | 2;
  createdAt: string;
  keyId: string;
  fileId: string;
}

/** What a backup holds: documents per collection, and stored files kept outside the database. */
export interface BackupSummary {
  createdAt: string;
  collections: Record<string, number>;
  documents: number;
  files: number;
}

/**
 * File bytes kept outside the database (the disk store's), which a backup carries beside the
 * collections: each content once, read by `list`, put back by `restore` (which checks the hash),
 * and `afterRestore` removes bytes the restored records no longer name.
 */
export interface BackupFiles {
  list(): AsyncIterable<{ sha256: string; size: number; open(): AsyncIterable<Buffer | Uint8Array> }>;
  restore(sha256: string, size: number, source: AsyncIterable<Buffer>): Promise<void>;
  afterRestore(): Promise<void>;
}

/** The file is not a KIS backup, was made with another key, or is damaged or cut off. */
export class BackupDamagedError extends Error {
  override name = 'BackupDamagedError';
}

function backupKey(masterKey: Buffer): Buffer {
  return deriveKey(masterKey, 'backups');
}

function recordAad(header: Buffer, index: number, last: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail.writeUInt8(last ? 1 : 0, 4);
  return Buffer.concat([header, tail]);
}

/** The collections a backup holds: everything but the system's and a restore's own. */
async function collectionsOf(db: Db): Promise<string[]> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  return names.filter((n) => !n.startsWith('system.') && !n.startsWith(STAGING_PREFIX) && n !== JOURNAL).sort();
}

/**
 * Writes a backup of `db` to `file` (through `file.tmp`, renamed at the end, mode 0600). The
 * collections are read one after another, not as one snapshot: a backup taken while KIS runs holds
 * each collection as it was when it was read.
 */
export async function writeBackup(
  db: Db,
  masterKey: Buffer,
  file: string,
  files?: BackupFiles,
): Promise<BackupSummary> {
  const key = backupKey(masterKey);
  const header: BackupHeader = {
    format: 'kis-backup',
    version: 2,
    createdAt: new Date().toISOString(),
    keyId: 'm1',
    fileId: randomBytes(16).toString('base64url'),
  };
  const headerBytes = Buffer.from(JSON.stringify(header));
  const tmp = `${file}.tmp`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  const write = async (chunk: Buffer): Promise<void> => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  try {
    const lengthPrefix = Buffer.alloc(4);
    lengthPrefix.writeUInt32BE(headerBytes.length);
    await write(Buffer.concat([MAGIC, lengthPrefix, headerBytes]));

    let index = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const seal = async (last: boolean): Promise<void> => {
      const plain = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(recordAad(headerBytes, index, last));
      const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(sealed.length);
      await write(Buffer.concat([len, iv, sealed, cipher.getAuthTag()]));
      index += 1;
    };

    const gzip = createGzip({ level: 6 });
    const sealing = (async () => {
      for await (const chunk of gzip) {
        pending.push(chunk as Buffer);
        pendingBytes += (chunk as Buffer).length;
        if (pendingBytes >= RECORD_BYTES) await seal(false);
      }
      await seal(true);
    })();
    const line = async (value: unknown): Promise<void> => {
      if (!gzip.write(`${JSON.stringify(value)}\n`)) await once(gzip, 'drain');
    };

    const counts: Record<string, number> = {};
    let documents = 0;
    for (const name of await collectionsOf(db)) {
      const collection = db.collection(name);
      const indexes = (await collection.listIndexes().toArray()).filter((i) => i.name !== '_id_');
      await line({ c: name, indexes });
      let count = 0;
      for await (const doc of collection.find({}, { batchSize: 1000 })) {
        await line({ d: BSON.EJSON.serialize(doc, { relaxed: false }) });
        count += 1;
      }
      counts[name] = count;
      documents += count;
    }
    let stored = 0;
    for await (const entry of files?.list() ?? []) {
      await line({ f: entry.sha256, size: entry.size });
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      for await (const piece of entry.open()) {
        pending.push(Buffer.from(piece));
        pendingBytes += piece.length;
        while (pendingBytes >= FILE_PIECE_BYTES) {
          const all = Buffer.concat(pending);
          await line({ b: all.subarray(0, FILE_PIECE_BYTES).toString('base64') });
          pending = [all.subarray(FILE_PIECE_BYTES)];
          pendingBytes = all.length - FILE_PIECE_BYTES;
        }
      }
      if (pendingBytes) await line({ b: Buffer.concat(pending).toString('base64') });
      stored += 1;
    }
    await line({ end: counts, files: stored });
    gzip.end();
    await sealing;
    out.end();
    await once(out, 'close');
    // On disk before it takes the final name: a crash never leaves a half backup under it.
    const handle = await open(tmp, 'r+');
    await handle.sync().finally(() => handle.close());
    await rename(tmp, file);
    return { createdAt: header.createdAt, collections: counts, documents, files: stored };
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Reads exactly `n` bytes from a stream's async iterator buffer, or undefined at the end. */
class ByteReader {
  private buffered: Buffer[] = [];
  private size = 0;
  private done = false;
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  async read(n: number): Promise<Buffer | undefined> {
    while (this.size < n && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else {
        this.buffered.push(next.value);
        this.size += next.value.length;
      }
    }
    if (this.size < n) return this.size === 0 ? undefined : Buffer.alloc(0);
    const all = Buffer.concat(this.buffered);
    this.buffered = all.length > n ? [all.subarray(n)] : [];
    this.size = all.length - n;
    return all.subarray(0, n);
  }
}

/** One parsed line of a backup. */
type Line =
  | { c: string; indexes: IndexDescription[] }
  | { d: Document }
  | { f: string; size: number }
  | { b: string }
  | { end: Record<string, number>; files?: number };

/**
 * Reads a backup line by line, checking every record's tag on the way; throws
 * {@link BackupDamagedError} for anything wrong, including a missing end.
 */
async function* readLines(file: string, masterKey: Buffer): AsyncGenerator<Line> {
  const key = backupKey(masterKey);
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  const reader = new ByteReader(stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  try {
    const magic = await reader.read(MAGIC.length);
    if (!magic?.equals(MAGIC)) throw new BackupDamagedError('not a KIS backup');
    const headerLength = (await reader.read(4))?.readUInt32BE(0);
    if (!headerLength || headerLength > 4096) throw new BackupDamagedError('damaged header');
    const headerBytes = await reader.read(headerLength);
    if (!headerBytes || headerBytes.length !== headerLength) throw new BackupDamagedError('damaged header');
    let header: BackupHeader;
    try {
      header = JSON.parse(headerBytes.toString('utf8')) as BackupHeader;
    } catch {
      throw new BackupDamagedError('damaged header');
    }
    if (header.format !== 'kis-backup' || (header.version !== 1 && header.version !== 2))
      throw new BackupDamagedError('unknown backup format');

    const gunzip = createGunzip();
    const lines: Line[] = [];
    let rest = '';
    let failure: Error | undefined;
    gunzip.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) {
        try {
          lines.push(JSON.parse(part) as Line);
        } catch {
          failure ??= new BackupDamagedError('damaged content');
        }
      }
    });
    gunzip.on('error', () => (failure ??= new BackupDamagedError('damaged content')));

    let index = 0;
    let last = false;
    let ended = false;
    while (!last) {
      const lengthBytes = await reader.read(4);
      if (!lengthBytes || lengthBytes.length < 4) throw new BackupDamagedError('backup is cut off');
      const length = lengthBytes.readUInt32BE(0);
      if (length > MAX_RECORD) throw new BackupDamagedError('damaged record');
      const body = await reader.read(12 + length + 16);
      if (!body || body.length < 12 + length + 16) throw new BackupDamagedError('backup is cut off');
      const iv = body.subarray(0, 12);
      const sealed = body.subarray(12, 12 + length);
      const tag = body.subarray(12 + length);
      // The last record says so in its authenticated data: try "not last" first, then "last".
      let plain: Buffer | undefined;
      for (const final of [false, true]) {
        try {
          const decipher = createDecipheriv('aes-256-gcm', key, iv);
          decipher.setAAD(recordAad(headerBytes, index, final));
          decipher.setAuthTag(tag);
          plain = Buffer.concat([decipher.update(sealed), decipher.final()]);
          last = final;
          break;
        } catch {
          plain = undefined;
        }
      }
      if (!plain) throw new BackupDamagedError('damaged record, or made with another master key');
      index += 1;
      if (!gunzip.write(plain)) await once(gunzip, 'drain');
      if (last) {
        gunzip.end();
        await once(gunzip, 'end').catch(() => undefined);
      }
      if (failure) throw failure;
      while (lines.length) {
        const next = lines.shift() as Line;
        if (ended) throw new BackupDamagedError('content after the end');
        if ('end' in next) ended = true;
        yield next;
      }
    }
    if (failure) throw failure;
    if (rest.trim() || !ended) throw new BackupDamagedError('backup is cut off');
    if ((await reader.read(1))?.length) throw new BackupDamagedError('data after the end');
  } finally {
    stream.destroy();
  }
}

/**
 * Checks a backup from end to end without writing anything: every record's tag, the content, and
 * that each collection holds as many documents as the end says.
 */
export async function verifyBackup(file: string, masterKey: Buffer): Promise<BackupSummary> {
  const counts: Record<string, number> = {};
  let current: string | undefined;
  let end: Extract<Line, { end: unknown }> | undefined;
  let stored: { size: number; got: number } | undefined;
  let files = 0;
  const closeFile = (): void => {
    if (stored && stored.got !== stored.size) throw new BackupDamagedError('a stored file is incomplete');
    stored = undefined;
  };
  for await (const line of readLines(file, masterKey)) {
    if ('c' in line) {
      if (typeof line.c !== 'string' || line.c in counts || files) throw new BackupDamagedError('damaged content');
      current = line.c;
      counts[current] = 0;
    } else if ('d' in line) {
      if (!current || files) throw new BackupDamagedError('damaged content');
      counts[current] = (counts[current] ?? 0) + 1;
    } else if ('f' in line) {
      closeFile();
      if (!isStoredFileLine(line)) throw new BackupDamagedError('damaged content');
      stored = { size: line.size, got: 0 };
      files += 1;
    } else if ('b' in line) {
      if (!stored || typeof line.b !== 'string') throw new BackupDamagedError('damaged content');
      stored.got += Buffer.byteLength(line.b, 'base64');
    } else {
      closeFile();
      end = line;
    }
  }
  if (!end || JSON.stringify(end.end) !== JSON.stringify(counts))
    throw new BackupDamagedError('document counts differ');
  if ((end.files ?? 0) !== files) throw new BackupDamagedError('stored file count differs');
  const header = await readHeader(file);
  return {
    createdAt: header.createdAt,
    collections: counts,
    documents: Object.values(counts).reduce((a, b) => a + b, 0),
    files,
  };
}

function isStoredFileLine(line: { f: unknown; size: unknown }): boolean {
  return (
    typeof line.f === 'string' &&
    /^[0-9a-f]{64}$/.test(line.f) &&
    typeof line.size === 'number' &&
    Number.isSafeInteger(line.size) &&
    line.size >= 0
  );
}

async function readHeader(file: string): Promise<BackupHeader> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length + 4 + 4096);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const length = head.readUInt32BE(MAGIC.length);
    return JSON.parse(
      head.subarray(MAGIC.length + 4, Math.min(bytesRead, MAGIC.length + 4 + length)).toString(),
    ) as BackupHeader;
  } finally {
    await handle.close();
  }
}

/**
 * Restores a backup, all or nothing:
 * 1. the whole file is verified first ({@link verifyBackup}); a damaged one changes nothing;
 * 2. every collection is loaded into a staging collection beside the live ones; a failure drops
 *    the staging collections and leaves the database as it was;
 * 3. a journal is written, then each live collection is replaced by its staging one (drop and
 *    rename), and collections the backup does not hold are dropped. Interrupted here, the next
 *    restore of any file first finishes this swap ({@link finishInterruptedRestore}).
 *
 * Stop KIS before restoring: a running server keeps state in memory that the restore replaces.
 */
export async function restoreBackup(
  db: Db,
  file: string,
  masterKey: Buffer,
  files?: BackupFiles,
): Promise<BackupSummary> {
  await finishInterruptedRestore(db);
  const summary = await verifyBackup(file, masterKey);
  if (summary.files && !files) throw new Error('this backup holds stored files: restore them with a file store');
  const staged: string[] = [];
  try {
    for (const name of await db.listCollections({}, { nameOnly: true }).toArray()) {
      if (name.name.startsWith(STAGING_PREFIX)) await db.collection(name.name).drop();
    }
    let current: { name: string; batch: Document[] } | undefined;
    const flush = async (): Promise<void> => {
      if (current?.batch.length)
        await db.collection(STAGING_PREFIX + current.name).insertMany(current.batch, { ordered: true });
      if (current) current.batch = [];
    };
    // Bytes go to the store while the lines are read: content-addressed, they harm nothing if the
    // restore fails later (the next start removes what no record names).
    let restoring: { pieces: Pipe<Buffer>; done: Promise<void> } | undefined;
    const closeFile = async (): Promise<void> => {
      if (!restoring) return;
      restoring.pieces.end();
      await restoring.done;
      restoring = undefined;
    };
    for await (const line of readLines(file, masterKey)) {
      if ('c' in line) {
        await flush();
        current = { name: line.c, batch: [] };
        const staging = STAGING_PREFIX + line.c;
        await db.createCollection(staging);
        staged.push(line.c);
        for (const index of line.indexes) {
          // What listIndexes describes besides the key, minus what only the server sets (v, ns).
          const options: Record<string, unknown> = { ...index };
          for (const field of ['key', 'v', 'ns']) Reflect.deleteProperty(options, field);
          await db.collection(staging).createIndex(index.key, options);
        }
      } else if ('d' in line && current) {
        current.batch.push(BSON.EJSON.deserialize(line.d, { relaxed: false }) as Document);
        if (current.batch.length >= INSERT_BATCH) await flush();
      } else if ('f' in line && files) {
        await flush();
        await closeFile();
        const pieces = new Pipe<Buffer>();
        const done = files.restore(line.f, line.size, pieces);
        // A failure shows at the next piece or at the end; until then the pipe must not wait for it.
        done.catch(() => pieces.fail());
        restoring = { pieces, done };
      } else if ('b' in line && restoring) {
        await restoring.pieces.push(Buffer.from(line.b, 'base64'));
      } else if ('end' in line) {
        await closeFile();
      }
    }
    await flush();
    await closeFile();
  } catch (err) {
    for (const name of staged)
      await db
        .collection(STAGING_PREFIX + name)
        .drop()
        .catch(() => undefined);
    throw err;
  }
  await db.collection(JOURNAL).insertOne({ collections: staged, at: new Date() });
  await finishInterruptedRestore(db);
  await files?.afterRestore();
  return summary;
}

/**
 * Finishes a restore whose swap was interrupted (the journal is there): replaces the live
 * collections by the staged ones and drops the rest. Does nothing without a journal.
 */
export async function finishInterruptedRestore(db: Db): Promise<boolean> {
  const journal = await db.collection(JOURNAL).findOne({});
  if (!journal) return false;
  const restored = new Set(journal.collections as string[]);
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of restored) {
    if (!existing.has(STAGING_PREFIX + name)) continue; // already swapped
    if (existing.has(name)) await db.collection(name).drop();
    await moveCollection(db, STAGING_PREFIX + name, name);
  }
  for (const name of existing) {
    if (restored.has(name) || name === JOURNAL || name.startsWith(STAGING_PREFIX) || name.startsWith('system.'))
      continue;
    await db.collection(name).drop();
  }
  await db.collection(JOURNAL).drop();
  return true;
}

/**
 * Gives a staged collection its live name: a rename where the server can, else a copy (FerretDB
 * renames no collection with a dot in its name, such as GridFS's `areafiles.chunks`). Run again
 * after an interruption, a copy starts over: the staging collection goes only when it is done.
 */
async function moveCollection(db: Db, from: string, to: string): Promise<void> {
  try {
    await db.collection(from).rename(to);
    return;
  } catch {
    // Copied below.
  }
  await db
    .collection(to)
    .drop()
    .catch(() => undefined);
  await db.createCollection(to);
  for (const index of await db.collection(from).listIndexes().toArray()) {
    if (index.name === '_id_') continue;
    const options: Record<string, unknown> = { ...index };
    for (const field of ['key', 'v', 'ns']) Reflect.deleteProperty(options, field);
    await db.collection(to).createIndex(index.key as IndexDescription['key'], options);
  }
  let batch: Document[] = [];
  for await (const doc of db.collection(from).find({}, { batchSize: 1000 })) {
    batch.push(doc);
    if (batch.length >= INSERT_BATCH) {
      await db.collection(to).insertMany(batch, { ordered: true });
      batch = [];
    }
  }
  if (batch.length) await db.collection(to).insertMany(batch, { ordered: true });
  await db.collection(from).drop();
}

/** The name of a backup file made at `at`: sortable, e.g. kis-backup-20261125T033000Z.kisbak. */
export function backupFileName(at: Date = new Date()): string {
  return `kis-backup-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}.kisbak`;
}
