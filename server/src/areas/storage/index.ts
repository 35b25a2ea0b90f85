/**
 * The door of the file storage: where the bytes of file areas and attachments live.
 * `settleFileStoreKind` decides (once per database), `createFileStore` makes the store; everything
 * else sees a {@link FileStore}.
 */
import path from 'node:path';
import type { Db } from 'mongodb';
import { createDatabaseStore } from './database-store.js';
import { createDiskStore } from './disk-store.js';
import type { FileStore, FileStoreKind } from './file-store.js';

export type { ByteSource, FileRef, FileStore, FileStoreKind, StoredFile } from './file-store.js';
export { cleanFileName } from './file-name.js';
export { sniffType } from './sniff.js';
export { moveFilesToDisk, type MoveReport } from './move-to-disk.js';
export { SealedFileDamagedError } from './sealed-file.js';

export { FileStoreMismatchError, settleFileStoreKind, type FileStoreChoice } from './store-choice.js';

/**
 * Creates the store of `kind`: on the disk under `<dataDir>/files`, or in the database.
 *
 * @example
 * const kind = await settleFileStoreKind(config.KIS_FILE_STORE, db.kind === 'external', database());
 * const store = createFileStore(kind, { dataDir: config.dataDir, masterKey, database: () => db });
 */
export function createFileStore(
  kind: FileStoreKind,
  options: { dataDir: string; masterKey: Buffer; database: () => Db },
): FileStore {
  return kind === 'disk'
    ? createDiskStore({ dir: path.join(options.dataDir, 'files'), masterKey: options.masterKey })
    : createDatabaseStore(options.database);
}
