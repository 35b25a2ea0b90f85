import { once } from 'node:events';
import { Readable } from 'node:stream';
import { GridFSBucket, type Binary, type Db, type ObjectId } from 'mongodb';
import type { ByteSource, FileRef, FileStore, StoredFile } from './file-store.js';
import { receiveBytes } from './receive.js';

/** GridFS chunk size: 1 MiB instead of the default 255 KiB, a quarter of the inserts for big files. */
const CHUNK_BYTES = 1024 * 1024;
/** The bucket's name: collections `areafiles.files` and `areafiles.chunks`. */
export const BUCKET = 'areafiles';
/** Chunks that may arrive ahead of their turn before a download gives up (see `read`). */
const REORDER_WINDOW = 16;
/** Chunks per database round trip while reading: a few MiB in memory at a time, whatever the file's size. */
const READ_BATCH = 4;

/**
 * File bytes in the database, in the GridFS bucket `areafiles` under the file record's id: the
 * store for a MongoDB that KIS does not run itself (MONGODB_URI), where several KIS processes may
 * share the database and its backups hold the files.
 */
export function createDatabaseStore(database: () => Db): FileStore {
  const bucket = (): GridFSBucket => new GridFSBucket(database(), { bucketName: BUCKET, chunkSizeBytes: CHUNK_BYTES });
  const chunks = () => database().collection<{ files_id: ObjectId; n: number; data: Binary }>(`${BUCKET}.chunks`);

  async function removeBytes(id: ObjectId): Promise<void> {
    await chunks().deleteMany({ files_id: id });
    await database().collection(`${BUCKET}.files`).deleteMany({ _id: id });
  }

  return {
    kind: 'database',

    async init() {
      await chunks().createIndex({ files_id: 1, n: 1 }, { unique: true });
      await database().collection(`${BUCKET}.files`).createIndex({ filename: 1, uploadDate: 1 });
    },

    async store(id: ObjectId, source: ByteSource, options, commit): Promise<StoredFile> {
      let upload: ReturnType<GridFSBucket['openUploadStreamWithId']> | undefined;
      try {
        const stored = await receiveBytes(source, options.maxBytes, {
          open: async (contentType) => {
            upload = bucket().openUploadStreamWithId(id, options.name, { metadata: { contentType } });
          },
          write: async (chunk) => {
            const stream = upload as NonNullable<typeof upload>;
            // once() rejects when the stream fails while we wait.
            if (!stream.write(chunk)) await once(stream, 'drain');
          },
        });
        const stream = upload as NonNullable<typeof upload>;
        const finished = once(stream, 'finish');
        stream.end();
        await finished;
        await commit(stored);
        return stored;
      } catch (err) {
        // Stops the writes under way and deletes the chunks written so far.
        if (upload) await upload.abort().catch(() => undefined);
        await removeBytes(id).catch(() => undefined);
        throw err;
      }
    },

    /**
     * Reads the chunks itself instead of through GridFSBucket.openDownloadStream, whose cursor asks
     * for batches of up to 1000 chunks and sorts by `n`: FerretDB then holds the whole file in memory
     * (measured: +1.9 GiB in KIS and +7.5 GiB in FerretDB for a 1 GiB file). Without the sort, MongoDB
     * walks the (files_id, n) index in order and FerretDB returns chunks in the order they were
     * written; a chunk arriving early waits in a small window, and a gap or a missing chunk ends the
     * stream with an error.
     */
    read(file: FileRef): Readable {
      const expected = Math.ceil(file.size / CHUNK_BYTES);
      async function* bytes(): AsyncGenerator<Buffer> {
        const early = new Map<number, Buffer>();
        let next = 0;
        let sent = 0;
        const cursor = chunks()
          .find({ files_id: file.id }, { projection: { _id: 0, n: 1, data: 1 } })
          .batchSize(READ_BATCH);
        try {
          for await (const chunk of cursor) {
            early.set(chunk.n, Buffer.from(chunk.data.buffer));
            if (early.size > REORDER_WINDOW) throw new Error(`chunks of file ${String(file.id)} out of order`);
            for (let data = early.get(next); data; data = early.get(next)) {
              early.delete(next);
              next += 1;
              sent += data.length;
              yield data;
            }
          }
        } finally {
          await cursor.close();
        }
        if (next !== expected || sent !== file.size)
          throw new Error(`file ${String(file.id)} is incomplete: ${sent} of ${file.size} bytes`);
      }
      return Readable.from(bytes(), { objectMode: false, highWaterMark: CHUNK_BYTES });
    },

    // Every record has its own chunks: nothing is shared, so nothing to ask.
    async remove(file: FileRef): Promise<void> {
      await removeBytes(file.id);
    },

    // Chunks without a record are removed with the interrupted upload's record (files.ts init).
    async sweep(): Promise<number> {
      return 0;
    },

    async holds(file: FileRef): Promise<boolean> {
      return (await database().collection(`${BUCKET}.files`).countDocuments({ _id: file.id }, { limit: 1 })) > 0;
    },
  };
}
