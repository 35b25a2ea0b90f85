import type { Readable } from 'node:stream';
import type { ObjectId } from 'mongodb';

/** What storing a file found out about it. */
export interface StoredFile {
  size: number;
  sha256: string;
  contentType: string;
}

/** A stored file as its record names it. */
export interface FileRef {
  id: ObjectId;
  size: number;
  /** Empty while the upload is under way. */
  sha256: string;
}

/** The bytes of an upload (a request body, a stream from a backup or another store). */
export type ByteSource = AsyncIterable<Buffer | Uint8Array> & Partial<Pick<Readable, 'destroy'>>;

/** Where a file's bytes live: the `disk` under KIS_DATA_DIR, or the `database` (GridFS). */
export type FileStoreKind = 'disk' | 'database';

/**
 * Keeps the bytes of the file areas and attachments; the records stay in `area_files`. Both kinds
 * stream with flat memory and check sizes; the caller has checked the rights.
 */
export interface FileStore {
  readonly kind: FileStoreKind;
  /** Creates indexes or directories and removes what an upload cut off by a crash left behind. */
  init(): Promise<void>;
  /**
   * Streams `source` in, at most `maxBytes` (more throws TooLarge and keeps nothing), sniffs the
   * type and hashes the bytes. `commit` runs once the bytes are durable and before any removal of
   * the same content can look at the records, so it must mark the record ready; when it throws,
   * `store` throws too and the caller removes the file as after any failed upload ({@link remove}).
   */
  store(
    id: ObjectId,
    source: ByteSource,
    options: { maxBytes: number; name: string },
    commit: (stored: StoredFile) => Promise<void>,
  ): Promise<StoredFile>;
  /** The bytes of a stored file; the stream fails if they are missing, damaged or cut off. */
  read(file: FileRef): Readable;
  /**
   * Removes a file's bytes once its record is gone. Content kept once for several records (the disk
   * store's) stays while `stillUsed` says another record holds the same bytes.
   */
  remove(file: FileRef, stillUsed: () => Promise<boolean>): Promise<void>;
  /**
   * Removes bytes no record names (`keep` lists the sha256 of every stored file), after a restore
   * or a crash between a record's removal and its bytes'. Returns how many went.
   */
  sweep(keep: ReadonlySet<string>): Promise<number>;
  /** Whether the bytes of content `sha256` are held (for moving files between stores). */
  holds(file: FileRef): Promise<boolean>;
}
