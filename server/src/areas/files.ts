import type { Readable } from 'node:stream';
import { oneAtATime } from '../db/one-at-a-time.js';
import mongoose from 'mongoose';
import { ObjectId } from 'mongodb';
import type { FileList, FileView } from '@kis/protocol/api';
import type { AreaChangedPayload } from '@kis/protocol/realtime';
import * as audit from '../audit/service.js';
import { isObjectId } from '../db/query.js';
import { Invalid, NotFound, TooLarge } from '../errors.js';
import type { Caller } from '../identity/service.js';
import * as identity from '../identity/service.js';
import type { Logger } from '../logger.js';
import { assertUseFiles, mayUseFiles } from './access.js';
import { AreaFile, FileQuota, type FileDoc } from './file-model.js';
import { contentInUse, readyFiles, refOf, sweepBytes } from './file-bytes.js';
import { cleanFileName, moveFilesToDisk, type FileStore } from './storage/index.js';

export { backupFiles } from './file-bytes.js';

/** Limits of the file exchange (see KIS_FILE_* in config.ts). */
export interface FileSettings {
  maxFileBytes: number;
  quotaBytes: number;
  staleAfterDays: number;
  /** Where the bytes live (storage/index.ts chooses). */
  store: FileStore;
  logger: Logger;
}

/** Tells browsers that an area changed; they fetch it again (the payload carries no content). */
export interface AreasNotifier {
  user(userId: string, payload: AreaChangedPayload): void;
  domain(domain: string, payload: AreaChangedPayload): void;
}

let settings: FileSettings | undefined;
let notifier: AreasNotifier | undefined;

function cfg(): FileSettings {
  if (!settings) throw new Error('areas not initialised');
  return settings;
}

/** The notifier the realtime layer provides once Socket.IO is up. */
export function setNotifier(next: AreasNotifier | undefined): void {
  notifier = next;
}

/** The notifier, for the info service beside this one. */
export function notify(): AreasNotifier | undefined {
  return notifier;
}

/**
 * Sets the limits, creates indexes and removes what uploads cut off by a crash or kill left behind
 * (their records are still `uploading`; one process owns the database's uploads).
 */
export async function init(options: FileSettings): Promise<void> {
  settings = options;
  await AreaFile.createIndexes();
  await options.store.init();
  const interrupted = (await AreaFile.find({ state: 'uploading' }).lean()) as FileDoc[];
  for (const doc of interrupted) await discard(doc);
  if (interrupted.length) options.logger.warn({ count: interrupted.length }, 'removed interrupted uploads');
  // Bytes shared by content and kept outside the records' database: only the disk store has them.
  if (options.store.kind !== 'disk') return;
  await moveOutOfDatabase(options);
  const swept = await sweepBytes(options.store);
  if (swept) options.logger.warn({ count: swept }, 'removed stored bytes no file record names');
}

/** Moves files that an earlier KIS kept in the database (GridFS) to the disk store, once. */
async function moveOutOfDatabase(options: FileSettings): Promise<void> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('database not connected');
  const report = await moveFilesToDisk(db, options.store, readyFiles);
  if (report.failed.length)
    options.logger.error(
      { moved: report.moved, failed: report.failed },
      'files could not be moved out of the database; they stay there and are tried again at the next start',
    );
  else if (report.dropped) options.logger.info({ moved: report.moved }, 'moved stored files out of the database');
}

function toObjectId(id: string): ObjectId | undefined {
  return isObjectId(id) ? new ObjectId(id) : undefined;
}

function isStale(createdAt: Date, now = Date.now()): boolean {
  return now - createdAt.getTime() > cfg().staleAfterDays * 86_400_000;
}

/** A stored file as lists show it. */
export function fileView(doc: FileDoc): FileView {
  return {
    id: String(doc._id),
    name: doc.name,
    size: doc.size,
    contentType: doc.contentType,
    sha256: doc.sha256 ?? '',
    uploadedAt: doc.createdAt.toISOString(),
    uploadedBy: doc.uploadedByRole === 'operator' ? 'operator' : 'owner',
    stale: doc.ownerUserId ? isStale(doc.createdAt) : false,
  };
}

/**
 * Runs changes of one user's quota one after another. MongoDB's $inc is atomic by itself, but
 * FerretDB's SQLite backend reads, changes and writes a document, so two uploads at once lost
 * one of their counts (measured: 42 of 60 bytes counted after ten parallel uploads).
 */
function withQuota<T>(userId: string, change: () => Promise<T>): Promise<T> {
  return oneAtATime(`quota:${userId}`, change);
}

/** Removes a file record, its bytes and its share of the owner's quota. */
async function discard(doc: FileDoc): Promise<void> {
  const removed = await AreaFile.deleteOne({ _id: doc._id });
  await cfg().store.remove(refOf(doc), () => contentInUse(doc.sha256));
  if (removed.deletedCount && doc.ownerUserId) {
    const held = doc.state === 'ready' ? doc.size : (doc.reserved ?? 0);
    const owner = doc.ownerUserId;
    if (held) await withQuota(owner, () => FileQuota.updateOne({ _id: owner }, { $inc: { used: -held } }));
  }
}

/**
 * The user whose file area a call works on: the caller's own, or for operators the one named.
 * A customer naming anyone else gets NotFound, as if the user did not exist.
 */
async function areaOwner(caller: Caller, userId: string | undefined): Promise<identity.AccountRef> {
  if (userId === undefined || userId === caller.userId) {
    assertUseFiles(caller);
    const own = await identity.findAccount(caller.userId);
    if (!own) throw new NotFound('user_not_found');
    return own;
  }
  if (caller.role !== 'admin') throw new NotFound('user_not_found');
  const account = await identity.findAccount(userId);
  if (!account) throw new NotFound('user_not_found');
  return account;
}

/** Bytes a user's files take (with uploads under way). */
async function usedBytes(userId: string): Promise<number> {
  const doc = await FileQuota.findById(userId).lean();
  return doc?.used ?? 0;
}

/** One page of a user's file area, newest first, with the quota. */
export async function listFiles(
  caller: Caller,
  query: { userId?: string | undefined; page: number; pageSize: number },
): Promise<FileList> {
  const owner = await areaOwner(caller, query.userId);
  const filter = { ownerUserId: owner.id, state: 'ready' };
  const [docs, total, used] = await Promise.all([
    AreaFile.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    AreaFile.countDocuments(filter),
    usedBytes(owner.id),
  ]);
  const s = cfg();
  return {
    items: (docs as FileDoc[]).map(fileView),
    total,
    usedBytes: used,
    quotaBytes: s.quotaBytes,
    maxFileBytes: s.maxFileBytes,
    staleAfterDays: s.staleAfterDays,
  };
}

/** How many files a user has, and how many are stale (for the area overview). */
export async function countFiles(userId: string): Promise<{ files: number; stale: number }> {
  const staleBefore = new Date(Date.now() - cfg().staleAfterDays * 86_400_000);
  const [files, stale] = await Promise.all([
    AreaFile.countDocuments({ ownerUserId: userId, state: 'ready' }),
    AreaFile.countDocuments({ ownerUserId: userId, state: 'ready', createdAt: { $lt: staleBefore } }),
  ]);
  return { files, stale };
}

/** What an upload brings: the file's name, its declared length and its bytes. */
export interface UploadInput {
  name: string;
  /** Content-Length of the request; an upload without one is refused (the quota is reserved up front). */
  declaredBytes: number | undefined;
  source: AsyncIterable<Buffer | Uint8Array> & Partial<Pick<Readable, 'destroy'>>;
}

function checkDeclared(declared: number | undefined): number {
  if (declared === undefined || !Number.isSafeInteger(declared) || declared < 0)
    throw new Invalid('length_required', 'an upload needs a Content-Length');
  if (declared > cfg().maxFileBytes) throw new TooLarge('file_too_large');
  return declared;
}

/**
 * Streams one file into a record, reserving `reserveFor`'s quota first. The record exists (state
 * `uploading`) before the first byte, so nothing is left behind by a failure or a crash.
 */
async function receive(
  caller: Caller,
  input: UploadInput,
  place: { ownerUserId?: string; entryId?: string; role: 'owner' | 'operator' },
): Promise<FileDoc> {
  const name = cleanFileName(input.name);
  const declared = checkDeclared(input.declaredBytes);
  const owner = place.ownerUserId;
  if (owner !== undefined) {
    const reserved = await withQuota(owner, async () => {
      // Two first uploads at once both try to create the record: the loser finds it there.
      await FileQuota.updateOne({ _id: owner }, { $setOnInsert: { used: 0 } }, { upsert: true }).catch(
        (err: unknown) => {
          if ((err as { code?: number }).code !== 11000) throw err;
        },
      );
      const result = await FileQuota.updateOne(
        { _id: owner, used: { $lte: cfg().quotaBytes - declared } },
        { $inc: { used: declared } },
      );
      // matched, not modified: an empty file reserves nothing and changes nothing.
      return result;
    });
    if (reserved.matchedCount !== 1) throw new TooLarge('quota_exceeded');
  }
  const id = new ObjectId();
  const record = (
    await AreaFile.create({
      _id: id,
      ...(owner !== undefined ? { ownerUserId: owner } : {}),
      ...(place.entryId !== undefined ? { entryId: place.entryId } : {}),
      name,
      state: 'uploading',
      uploadedById: caller.userId,
      uploadedByRole: place.role,
      reserved: declared,
      createdAt: new Date(),
    })
  ).toObject() as FileDoc;
  let content: string | undefined;
  try {
    const committed: { doc?: FileDoc } = {};
    // The declared length is the most that may arrive: a body that runs longer is cut off.
    const stored = await cfg().store.store(id, input.source, { maxBytes: declared, name }, async (got) => {
      content = got.sha256;
      const ready = (await AreaFile.findOneAndUpdate(
        { _id: id },
        { $set: { state: 'ready', size: got.size, sha256: got.sha256, contentType: got.contentType, reserved: 0 } },
        { new: true },
      ).lean()) as FileDoc | null;
      if (!ready) throw new Error('file record vanished during upload');
      committed.doc = ready;
    });
    if (!committed.doc) throw new Error('file record vanished during upload');
    if (owner !== undefined && stored.size !== declared)
      await withQuota(owner, () => FileQuota.updateOne({ _id: owner }, { $inc: { used: stored.size - declared } }));
    return committed.doc;
  } catch (err) {
    await discard({ ...record, ...(content ? { sha256: content } : {}) });
    throw err;
  }
}

/**
 * Uploads a file into a file area: customers into their own (with the file right), operators into
 * anybody's, who is then told live and by mail. Over the size limit or the quota nothing is kept.
 */
export async function uploadFile(
  caller: Caller,
  input: UploadInput & { userId?: string | undefined },
): Promise<FileView> {
  const owner = await areaOwner(caller, input.userId);
  const byOperator = owner.id !== caller.userId;
  let doc: FileDoc;
  try {
    doc = await receive(caller, input, { ownerUserId: owner.id, role: byOperator ? 'operator' : 'owner' });
  } catch (err) {
    if (err instanceof TooLarge || err instanceof Invalid) {
      await audit.record({
        action: 'file.upload_refused',
        outcome: 'failure',
        actorId: caller.userId,
        actorEmail: caller.email,
        ip: caller.ip,
        target: owner.email,
        details: { reason: err.code },
      });
    }
    throw err;
  }
  await audit.record({
    action: 'file.uploaded',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: owner.email,
    details: { file: doc.name, size: doc.size, sha256: doc.sha256 ?? '' },
  });
  notifier?.user(owner.id, { area: 'files' });
  if (byOperator) {
    await identity.mailAccount(owner.id, 'file_added', { name: doc.name, link: `${identity.publicUrl()}/dateien` });
  }
  return fileView(doc);
}

/** A file of a file area the caller may reach; NotFound for anything else, foreign files included. */
async function reachableFile(caller: Caller, fileId: string): Promise<FileDoc> {
  const id = toObjectId(fileId);
  const doc = id ? ((await AreaFile.findOne({ _id: id, state: 'ready' }).lean()) as FileDoc | null) : null;
  if (!doc || !doc.ownerUserId) throw new NotFound('file_not_found');
  if (caller.role === 'admin') return doc;
  if (doc.ownerUserId !== caller.userId) throw new NotFound('file_not_found');
  assertUseFiles(caller);
  return doc;
}

/** A file opened for download: what to say in the headers and the bytes. */
export interface Download {
  file: FileView;
  stream: Readable;
}

/** Opens a file of a file area for download and writes the access to the audit log. */
export async function openDownload(caller: Caller, fileId: string): Promise<Download> {
  const doc = await reachableFile(caller, fileId);
  await audit.record({
    action: 'file.downloaded',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.name,
    details: { fileId: String(doc._id), owner: doc.ownerUserId ?? null, size: doc.size },
  });
  return { file: fileView(doc), stream: cfg().store.read(refOf(doc)) };
}

/** Deletes a file of a file area (owner with the file right, or an operator). */
export async function deleteFile(caller: Caller, fileId: string): Promise<void> {
  const doc = await reachableFile(caller, fileId);
  await discard(doc);
  await audit.record({
    action: 'file.deleted',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.name,
    details: { fileId: String(doc._id), owner: doc.ownerUserId ?? null, size: doc.size },
  });
  if (doc.ownerUserId) notifier?.user(doc.ownerUserId, { area: 'files' });
}

// ─── Attachments of area 1 and 2 entries (used by info.ts, which checks the rights) ──────────────

/** Stores an attachment of an info entry; it counts against no user's quota. */
export async function storeAttachment(caller: Caller, entryId: string, input: UploadInput): Promise<FileView> {
  return fileView(await receive(caller, input, { entryId, role: 'operator' }));
}

/** The attachments of entries, by entry id. */
export async function attachmentsOf(entryIds: readonly string[]): Promise<Map<string, FileView[]>> {
  const docs = entryIds.length
    ? ((await AreaFile.find({ entryId: { $in: entryIds }, state: 'ready' })
        .sort({ createdAt: 1 })
        .lean()) as FileDoc[])
    : [];
  const byEntry = new Map<string, FileView[]>();
  for (const doc of docs) {
    const list = byEntry.get(doc.entryId ?? '') ?? [];
    list.push(fileView(doc));
    byEntry.set(doc.entryId ?? '', list);
  }
  return byEntry;
}

/** Opens an attachment of an entry the caller may read (checked by the caller of this function). */
export async function openAttachment(entryId: string, fileId: string): Promise<Download> {
  const id = toObjectId(fileId);
  const doc = id ? ((await AreaFile.findOne({ _id: id, entryId, state: 'ready' }).lean()) as FileDoc | null) : null;
  if (!doc) throw new NotFound('file_not_found');
  return { file: fileView(doc), stream: cfg().store.read(refOf(doc)) };
}

/** Removes one attachment, or all of an entry's. */
export async function removeAttachments(entryId: string, fileId?: string): Promise<number> {
  const filter: Record<string, unknown> = { entryId };
  if (fileId !== undefined) {
    const id = toObjectId(fileId);
    if (!id) return 0;
    filter._id = id;
  }
  const docs = (await AreaFile.find(filter).lean()) as FileDoc[];
  for (const doc of docs) await discard(doc);
  return docs.length;
}

/** Removes a deleted account's file area: every file, its bytes, and the quota record. */
export async function removeFileArea(userId: string): Promise<number> {
  const docs = (await AreaFile.find({ ownerUserId: userId }).lean()) as FileDoc[];
  for (const doc of docs) await discard(doc);
  await FileQuota.deleteOne({ _id: userId });
  return docs.length;
}

/**
 * Until when a person still has files handed to them that they may not have fetched yet: files an
 * operator put into their area, until they count as stale. Undefined when there are none.
 */
export async function handedFilesUntil(userId: string): Promise<Date | undefined> {
  const newest = (await AreaFile.findOne({ ownerUserId: userId, uploadedByRole: 'operator', state: 'ready' })
    .sort({ createdAt: -1 })
    .lean()) as FileDoc | null;
  if (!newest) return undefined;
  const until = new Date(newest.createdAt.getTime() + cfg().staleAfterDays * 86_400_000);
  return until.getTime() > Date.now() ? until : undefined;
}

/** A person's files for their data export: what each is, and how to read its bytes. */
export async function filesForExport(
  userId: string,
): Promise<Array<{ view: FileView; open: () => NodeJS.ReadableStream }>> {
  const docs = (await AreaFile.find({ ownerUserId: userId, state: 'ready' })
    .sort({ createdAt: 1 })
    .lean()) as FileDoc[];
  return docs.map((doc) => ({ view: fileView(doc), open: () => cfg().store.read(refOf(doc)) }));
}

/** Whether a caller may use their own file area (for the overview). */
export { mayUseFiles };
