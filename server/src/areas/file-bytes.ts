import { ObjectId } from 'mongodb';
import type { BackupFiles } from '../db/backup.js';
import { AreaFile, type FileDoc } from './file-model.js';
import type { FileRef, FileStore } from './storage/index.js';

/*
 * The file records' side of the stored bytes: which bytes the records name, which may go, and
 * what a backup carries. files.ts owns the records' life; this file only reads them.
 */

/** The stored bytes' reference of a record. */
export function refOf(doc: Pick<FileDoc, '_id' | 'size' | 'sha256'>): FileRef {
  return { id: doc._id, size: doc.size, sha256: doc.sha256 ?? '' };
}

/** Every ready record's bytes, as the store names them. */
export async function* readyFiles(): AsyncGenerator<FileRef> {
  for await (const doc of AreaFile.find({ state: 'ready' }, { _id: 1, size: 1, sha256: 1 }).lean().cursor())
    yield refOf(doc as FileDoc);
}

/** Removes stored bytes no ready record names (after a restore, or a crash mid-removal). */
export async function sweepBytes(store: FileStore): Promise<number> {
  const keep = new Set((await AreaFile.distinct('sha256', { state: 'ready' })).filter(Boolean) as string[]);
  return store.sweep(keep);
}

/** Whether a ready record holds content `sha256` (the disk store keeps equal content once). */
export async function contentInUse(sha256: string | undefined): Promise<boolean> {
  if (!sha256) return false;
  return (await AreaFile.exists({ sha256, state: 'ready' })) !== null;
}

/**
 * The files of `store` kept outside the database, for backups (the server's and the CLI's, which
 * must not run {@link init} beside a running server): each content once, read from the store, put
 * back with its hash checked, and bytes no restored record names removed afterwards. Lists nothing
 * when the database holds the bytes (its collections are in the backup).
 */
export function backupFiles(store: FileStore): BackupFiles {
  return {
    async *list() {
      if (store.kind !== 'disk') return;
      const seen = new Set<string>();
      for await (const ref of readyFiles()) {
        if (!ref.sha256 || seen.has(ref.sha256)) continue;
        seen.add(ref.sha256);
        yield { sha256: ref.sha256, size: ref.size, open: () => store.read(ref) };
      }
    },
    async restore(sha256, size, source) {
      await store.store(new ObjectId(), source, { maxBytes: size, name: '' }, async (got) => {
        if (got.sha256 !== sha256 || got.size !== size)
          throw new Error('file bytes in the backup differ from their hash');
      });
    },
    async afterRestore() {
      await sweepBytes(store);
    },
  };
}
