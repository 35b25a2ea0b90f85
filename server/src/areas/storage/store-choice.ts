import type { Db } from 'mongodb';
import type { FileStoreKind } from './file-store.js';

/** The setting KIS_FILE_STORE: a kind, or `auto`. */
export type FileStoreChoice = FileStoreKind | 'auto';

/** Where the database notes which store holds its files, so every later start and CLI agrees. */
const SETTINGS = 'system_settings';
const KEY = 'file-store';

/** Files are on the disk but KIS_FILE_STORE asks for the database: KIS does not move them back. */
export class FileStoreMismatchError extends Error {
  override name = 'FileStoreMismatchError';
}

/**
 * The store a database's files live in. The first start decides and notes it in the database:
 * `auto` keeps bytes on the disk when KIS runs its own database under the data directory (one
 * process owns both) and in the database (GridFS) when MONGODB_URI names a server, which several
 * KIS processes may share. Later starts follow the note, so a database moved to another server by
 * backup and restore keeps finding its files; a setting of `disk` over files in the database moves
 * them at start, the other way is refused.
 */
export async function settleFileStoreKind(
  choice: FileStoreChoice,
  databaseIsExternal: boolean,
  db: Db,
): Promise<FileStoreKind> {
  const settings = db.collection<{ _id: string; kind: FileStoreKind; since: Date }>(SETTINGS);
  const noted = (await settings.findOne({ _id: KEY }))?.kind;
  const kind = choice !== 'auto' ? choice : (noted ?? (databaseIsExternal ? 'database' : 'disk'));
  if (noted === 'disk' && kind === 'database')
    throw new FileStoreMismatchError(
      'the files of this database are on the disk (KIS_DATA_DIR/files); KIS_FILE_STORE=database cannot move them back',
    );
  if (noted !== kind) await settings.updateOne({ _id: KEY }, { $set: { kind, since: new Date() } }, { upsert: true });
  return kind;
}
