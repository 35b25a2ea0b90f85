import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ObjectId } from 'mongodb';
import { deriveKey } from '../../crypto/tokens.js';
import { oneAtATime } from '../../db/one-at-a-time.js';
import type { ByteSource, FileRef, FileStore, StoredFile } from './file-store.js';
import { receiveBytes } from './receive.js';
import { readSealedFile, SealedFileWriter, sealedLength } from './sealed-file.js';

/** Where uploads are written until they are complete, under the store's directory. */
const INCOMING = 'incoming';

/**
 * File bytes on the disk under `<KIS_DATA_DIR>/files`, encrypted at rest ({@link SealedFileWriter}),
 * one file per content: the name is an HMAC of the content's SHA-256 under a key derived from the
 * master key, so equal uploads are kept once and the names reveal nothing about the content. The
 * store for the embedded database, where one KIS process owns the data directory: moving 1 GiB
 * through FerretDB ran at 14–19 MiB/s (BENCHMARKS.md), a file on the disk at the disk's speed.
 *
 * Records and bytes meet under a lock per content (this process): a removal checks whether
 * another record holds the same content while no upload of it can finish.
 */
export function createDiskStore(options: { dir: string; masterKey: Buffer }): FileStore {
  const fileKey = deriveKey(options.masterKey, 'files-at-rest');
  const nameKey = deriveKey(options.masterKey, 'file-names');
  const incoming = path.join(options.dir, INCOMING);

  const nameOf = (sha256: string): string => createHmac('sha256', nameKey).update(sha256, 'utf8').digest('hex');
  const pathOf = (sha256: string): string => {
    const name = nameOf(sha256);
    return path.join(options.dir, name.slice(0, 2), name);
  };
  const lockOf = (sha256: string): string => `file-bytes:${sha256}`;
  // A store the CLI uses without init (a restore) makes its incoming directory at the first upload.
  let incomingMade: Promise<unknown> | undefined;
  const makeIncoming = (): Promise<unknown> => (incomingMade ??= mkdir(incoming, { recursive: true, mode: 0o700 }));

  return {
    kind: 'disk',

    async init() {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      // One process owns the directory: whatever is still incoming was cut off by a crash.
      await rm(incoming, { recursive: true, force: true });
      incomingMade = mkdir(incoming, { mode: 0o700 });
      await incomingMade;
    },

    async store(id: ObjectId, source: ByteSource, options_, commit): Promise<StoredFile> {
      const temp = path.join(incoming, `${String(id)}-${randomBytes(6).toString('hex')}`);
      let writer: SealedFileWriter | undefined;
      try {
        await makeIncoming();
        const stored = await receiveBytes(source, options_.maxBytes, {
          open: async () => {
            writer = await SealedFileWriter.create(temp, fileKey);
          },
          write: (chunk) => (writer as SealedFileWriter).write(chunk),
        });
        const finished = writer as SealedFileWriter;
        writer = undefined;
        await finished.finish();
        const target = pathOf(stored.sha256);
        await oneAtATime(lockOf(stored.sha256), async () => {
          await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
          // Equal content already there is replaced by the same content under another salt.
          await rename(temp, target);
          await syncDirectory(path.dirname(target));
          await commit(stored);
        });
        return stored;
      } catch (err) {
        await writer?.abort();
        await rm(temp, { force: true });
        throw err;
      }
    },

    read(file: FileRef): Readable {
      if (!file.sha256) throw new Error(`file ${String(file.id)} has no content yet`);
      return readSealedFile(pathOf(file.sha256), fileKey, file.size);
    },

    async remove(file: FileRef, stillUsed: () => Promise<boolean>): Promise<void> {
      if (!file.sha256) return; // an upload under way: its incoming file is removed by store()
      await oneAtATime(lockOf(file.sha256), async () => {
        if (await stillUsed()) return;
        await rm(pathOf(file.sha256), { force: true });
      });
    },

    async sweep(keep: ReadonlySet<string>): Promise<number> {
      const wanted = new Set([...keep].map(nameOf));
      let removed = 0;
      for (const entry of await readdir(options.dir, { withFileTypes: true })) {
        if (!entry.isDirectory() || !/^[0-9a-f]{2}$/.test(entry.name)) continue;
        const sub = path.join(options.dir, entry.name);
        for (const name of await readdir(sub)) {
          if (wanted.has(name)) continue;
          await rm(path.join(sub, name), { force: true });
          removed += 1;
        }
      }
      return removed;
    },

    async holds(file: FileRef): Promise<boolean> {
      if (!file.sha256) return false;
      const found = await stat(pathOf(file.sha256)).catch(() => undefined);
      return found?.size === sealedLength(file.size);
    },
  };
}

/** Makes a rename in `dir` durable (the directory entry, not only the file's bytes). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  await handle.sync().finally(() => handle.close());
}
