import type { Db, ObjectId } from 'mongodb';
import { BUCKET, createDatabaseStore } from './database-store.js';
import type { FileRef, FileStore } from './file-store.js';

/** What moving the files out of the database did. */
export interface MoveReport {
  /** Files whose bytes are now on the disk (moved now or before). */
  moved: number;
  /** Files whose bytes could not be read whole or did not match their SHA-256; left in the database. */
  failed: string[];
  /** Whether the GridFS collections were dropped (only when nothing failed). */
  dropped: boolean;
}

/**
 * Moves the bytes of every ready file from the GridFS bucket (where KIS kept them up to 2026-12)
 * into the disk store, checking each against its SHA-256 on the way, then drops the bucket's
 * collections. Nothing is dropped while any file failed: the next start tries again, skipping what
 * is already on the disk, and reads of the files not moved fail until then (logged by the caller).
 */
export async function moveFilesToDisk(
  db: Db,
  disk: FileStore,
  files: () => AsyncIterable<FileRef>,
): Promise<MoveReport> {
  const report: MoveReport = { moved: 0, failed: [], dropped: false };
  const names = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  if (!names.has(`${BUCKET}.chunks`) && !names.has(`${BUCKET}.files`)) return report;
  const gridfs = createDatabaseStore(() => db);
  for await (const file of files()) {
    if (await disk.holds(file)) {
      report.moved += 1;
      continue;
    }
    try {
      await disk.store(file.id as ObjectId, gridfs.read(file), { maxBytes: file.size, name: '' }, async (got) => {
        if (got.sha256 !== file.sha256 || got.size !== file.size)
          throw new Error(`content differs from its record (${got.size} bytes, sha256 ${got.sha256})`);
      });
      report.moved += 1;
    } catch {
      report.failed.push(String(file.id));
    }
  }
  if (report.failed.length === 0) {
    for (const name of [`${BUCKET}.chunks`, `${BUCKET}.files`]) if (names.has(name)) await db.collection(name).drop();
    report.dropped = true;
  }
  return report;
}
