import * as decoding from 'lib0/decoding';
import { createActor } from 'xstate';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import type { DocumentAccess, DocumentCreate, DocumentVersionView, DocumentView } from '@kis/protocol/api';
import type { DocOpenValue, DocSyncValue } from '@kis/protocol/realtime';
import * as audit from '../audit/service.js';
import { isObjectId, sameText } from '../db/query.js';
import { Forbidden, Invalid, NotFound, RateLimited } from '../errors.js';
import { hasRight } from '../identity/access.js';
import type { Caller } from '../identity/service.js';
import * as identity from '../identity/service.js';
import * as organizations from '../identity/organizations.js';
import type { Logger } from '../logger.js';
import { documentMachine, type DocumentActor, type DocumentEffects, type SyncResult } from './document-machine.js';
import { toMarkdown, toPdf } from './document-export.js';
import {
  DocumentUpdate,
  DocumentVersion,
  TextDocument,
  type DocumentDoc,
  type DocumentVersionDoc,
} from './document-model.js';
import { DOCUMENT_FIELD } from './document-schema.js';

/** Limits and timings of area 3 (see KIS_DOCUMENT_* in config.ts). */
export interface DocumentSettings {
  maxBytes: number;
  idleMs: number;
  logger: Logger;
}

/** How the service reaches the sockets of a document's room. */
export interface DocumentTransport {
  relay(docId: string, message: Uint8Array, exceptClientId: string | undefined): void;
  relayAwareness(docId: string, update: Uint8Array, exceptClientId: string | undefined): void;
  closed(docId: string, reason: 'deleted' | 'forbidden'): void;
}

/** Sync messages a client may send per second on average, and in a burst (fast typing, a paste). */
const SYNC_RATE = 30;
const SYNC_BURST = 120;
/** Awareness updates (cursor moves) per second and burst; more are dropped silently. */
const AWARENESS_RATE = 20;
const AWARENESS_BURST = 60;
/** "Last editor" and "changed at" are written at most this often per document. */
const TOUCH_EVERY_MS = 5000;

let settings: DocumentSettings | undefined;
let transport: DocumentTransport | undefined;

/** A document loaded into its actor, with what access checks need without the database. */
interface Loaded {
  actor: DocumentActor;
  ownerUserId: string | undefined;
  organizationId: string | undefined;
}
const loaded = new Map<string, Loaded>();
const loading = new Map<string, Promise<Loaded>>();
const unloading = new Map<string, Promise<void>>();
/** The documents each socket has open. */
const openBy = new Map<string, Set<string>>();
const touchTimers = new Map<string, { by: string; timer: NodeJS.Timeout }>();

function cfg(): DocumentSettings {
  if (!settings) throw new Error('documents not initialised');
  return settings;
}

/** Sets the limits; call once at start-up. */
export async function init(options: DocumentSettings): Promise<void> {
  settings = options;
  await Promise.all([TextDocument.createIndexes(), DocumentUpdate.createIndexes(), DocumentVersion.createIndexes()]);
}

export function setTransport(next: DocumentTransport | undefined): void {
  transport = next;
}

// ─── Access ──────────────────────────────────────────────────────────────────────────────────────

interface Owned {
  ownerUserId?: string | null | undefined;
  organizationId?: string | null | undefined;
}

/**
 * What a caller may do with a document. Operators edit everything. A user's own document: edited
 * by its owner (a sub-account needs the right to edit texts, else it reads along with the right to
 * read information). An organization's document: its main account edits, its sub-accounts by the
 * same two rights. Everyone else: nothing (and the document does not exist for them).
 */
export function accessTo(caller: Caller, doc: Owned): DocumentAccess | null {
  if (caller.role === 'admin') return 'edit';
  if (doc.ownerUserId) {
    if (doc.ownerUserId !== caller.userId) return null;
    if (!caller.organizationId || caller.accountType === 'main') return 'edit';
  } else if (!doc.organizationId || doc.organizationId !== caller.organizationId) return null;
  if (hasRight(caller, 'edit_texts')) return 'edit';
  if (hasRight(caller, 'read_areas')) return 'read';
  return null;
}

async function loadMeta(caller: Caller, docId: string): Promise<{ doc: DocumentDoc; access: DocumentAccess }> {
  const doc = isObjectId(docId)
    ? ((await TextDocument.findById(docId, { state: 0 }).lean()) as DocumentDoc | null)
    : null;
  const access = doc ? accessTo(caller, doc) : null;
  if (!doc || !access) throw new NotFound('document_not_found');
  return { doc, access };
}

async function ownerNames(docs: readonly DocumentDoc[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const users = await identity.describeUsers([...new Set(docs.flatMap((d) => (d.ownerUserId ? [d.ownerUserId] : [])))]);
  for (const [id, user] of users) names.set(id, user.email);
  for (const orgId of new Set(docs.flatMap((d) => (d.organizationId ? [d.organizationId] : [])))) {
    const name = await organizations.organizationName(orgId);
    if (name) names.set(orgId, name);
  }
  return names;
}

function view(doc: DocumentDoc, access: DocumentAccess, names: Map<string, string>): DocumentView {
  const ownerId = doc.ownerUserId ?? doc.organizationId ?? '';
  return {
    id: String(doc._id),
    title: doc.title,
    owner: { kind: doc.ownerUserId ? 'user' : 'organization', id: ownerId, name: names.get(ownerId) ?? '' },
    lastEditor: doc.lastEditor ?? null,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
    access,
  };
}

// ─── Documents (REST) ────────────────────────────────────────────────────────────────────────────

/**
 * The documents a caller may see, last changed first: a customer's own and their company's;
 * operators all, or those of one user or organization.
 */
export async function listDocuments(
  caller: Caller,
  query: { userId?: string | undefined; organizationId?: string | undefined; page: number; pageSize: number },
): Promise<{ items: DocumentView[]; total: number }> {
  let filter: Record<string, unknown>;
  if (caller.role === 'admin') {
    filter = query.userId
      ? { ownerUserId: query.userId }
      : query.organizationId
        ? { organizationId: query.organizationId }
        : {};
  } else {
    const mine: Array<Record<string, unknown>> = [{ ownerUserId: caller.userId }];
    if (caller.organizationId) mine.push({ organizationId: caller.organizationId });
    filter = { $or: mine };
  }
  const docs = (await TextDocument.find(filter, { state: 0 }).sort({ updatedAt: -1, _id: -1 }).lean()) as DocumentDoc[];
  // Rights decide per document (a sub-account without rights sees none); the list is short.
  const visible = docs.flatMap((d) => {
    const access = accessTo(caller, d);
    return access ? [{ doc: d, access }] : [];
  });
  const page = visible.slice((query.page - 1) * query.pageSize, query.page * query.pageSize);
  const names = await ownerNames(page.map((p) => p.doc));
  return { items: page.map((p) => view(p.doc, p.access, names)), total: visible.length };
}

/** Creates an empty document: a customer's own or their company's; operators for anyone. */
export async function createDocument(caller: Caller, input: DocumentCreate): Promise<DocumentView> {
  let owner: Owned;
  if (caller.role === 'admin' && (input.userId || input.organizationId)) {
    if (input.userId) {
      if (!(await identity.findAccount(input.userId))) throw new NotFound('user_not_found');
      owner = { ownerUserId: input.userId };
    } else {
      if (!(await organizations.organizationName(input.organizationId ?? '')))
        throw new NotFound('organization_not_found');
      owner = { organizationId: input.organizationId };
    }
  } else if (input.forOrganization) {
    if (!caller.organizationId) throw new Invalid('no_organization');
    owner = { organizationId: caller.organizationId };
  } else {
    owner = { ownerUserId: caller.userId };
  }
  if (accessTo(caller, owner) !== 'edit') throw new Forbidden('forbidden', 'missing right edit_texts');
  const now = new Date();
  const doc = (
    await TextDocument.create({
      title: input.title.trim(),
      ...owner,
      stateSeq: 0,
      lastEditor: caller.email,
      createdAt: now,
      updatedAt: now,
    })
  ).toObject() as DocumentDoc;
  await audit.record({
    action: 'document.created',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.title,
    details: { documentId: String(doc._id), owner: doc.ownerUserId ?? doc.organizationId ?? null },
  });
  return view(doc, 'edit', await ownerNames([doc]));
}

/** Renames a document (editors). */
export async function renameDocument(caller: Caller, docId: string, title: string): Promise<DocumentView> {
  const { doc, access } = await loadMeta(caller, docId);
  if (access !== 'edit') throw new Forbidden('read_only');
  // An update and a read, not findOneAndUpdate with a projection, which FerretDB refuses.
  await TextDocument.updateOne(
    { _id: doc._id },
    { $set: { title: title.trim(), updatedAt: new Date(), lastEditor: caller.email } },
  );
  const updated = (await TextDocument.findById(doc._id, { state: 0 }).lean()) as DocumentDoc | null;
  if (!updated) throw new NotFound('document_not_found');
  await audit.record({
    action: 'document.renamed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: updated.title,
    details: { documentId: docId, from: doc.title },
  });
  return view(updated, access, await ownerNames([updated]));
}

/** Unloads a document (its editors are told it is gone) and deletes it with its updates and versions. */
async function removeDocument(docId: string): Promise<void> {
  const open = loaded.get(docId);
  if (open) {
    loaded.delete(docId);
    open.actor.stop();
    open.actor.getSnapshot().context.awareness.destroy();
  }
  transport?.closed(docId, 'deleted');
  for (const docs of openBy.values()) docs.delete(docId);
  await TextDocument.deleteOne({ _id: docId });
  await DocumentUpdate.deleteMany({ docId });
  await DocumentVersion.deleteMany({ docId });
}

/** Deletes a document and its history (editors); whoever has it open is told. */
export async function deleteDocument(caller: Caller, docId: string): Promise<void> {
  const { doc, access } = await loadMeta(caller, docId);
  if (access !== 'edit') throw new Forbidden('read_only');
  await removeDocument(docId);
  await audit.record({
    action: 'document.deleted',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.title,
    details: { documentId: docId },
  });
}

/** The texts a person owns, as Markdown, for their data export. */
export async function ownDocumentsForExport(
  userId: string,
): Promise<Array<{ id: string; title: string; markdown: string; createdAt: Date; updatedAt: Date }>> {
  const docs = await TextDocument.find({ ownerUserId: userId }, { state: 0 }).lean();
  const out = [];
  for (const doc of docs) {
    const id = String(doc._id);
    out.push({
      id,
      title: doc.title,
      markdown: toMarkdown(doc.title, await currentState(id)),
      createdAt: doc.createdAt,
      updatedAt: doc.updatedAt,
    });
  }
  return out;
}

/**
 * Erases a person from the shared texts: their own texts (not shared with a company) are deleted;
 * where their address names an editor or a version's author, a pseudonym stands instead. What they
 * wrote into company texts stays: it is the company's text.
 */
export async function erasePerson(person: {
  userId?: string | undefined;
  email: string;
  pseudonym: string;
}): Promise<{ deleted: number; pseudonymized: number }> {
  let deleted = 0;
  if (person.userId) {
    const own = await TextDocument.find(
      { ownerUserId: person.userId, $or: [{ organizationId: { $exists: false } }, { organizationId: null }] },
      { _id: 1 },
    ).lean();
    for (const doc of own) {
      await removeDocument(String(doc._id));
      deleted += 1;
    }
  }
  const address = sameText(person.email);
  const renamed = await Promise.all([
    TextDocument.updateMany({ lastEditor: address }, { $set: { lastEditor: person.pseudonym } }),
    DocumentVersion.updateMany({ createdBy: address }, { $set: { createdBy: person.pseudonym } }),
    DocumentUpdate.updateMany({ by: address }, { $set: { by: person.pseudonym } }),
  ]);
  return { deleted, pseudonymized: renamed.reduce((sum, r) => sum + r.modifiedCount, 0) };
}

// ─── Live editing ────────────────────────────────────────────────────────────────────────────────

const effects: DocumentEffects = {
  async append(docId, seq, update, by) {
    await DocumentUpdate.create({
      _id: `${docId}:${seq}`,
      docId,
      seq,
      update: Buffer.from(update),
      by,
      at: new Date(),
    });
  },
  async compact(docId, state, seq) {
    // Only forward: a slower, older compaction must not overwrite a newer one.
    await TextDocument.updateOne(
      { _id: docId, stateSeq: { $lt: seq } },
      { $set: { state: Buffer.from(state), stateSeq: seq } },
    );
    const stored = await TextDocument.findById(docId, { stateSeq: 1 }).lean();
    if (stored) await DocumentUpdate.deleteMany({ docId, seq: { $lte: stored.stateSeq } });
  },
  relay: (docId, message, except) => transport?.relay(docId, message, except),
  relayAwareness: (docId, update, except) => transport?.relayAwareness(docId, update, except),
  changed(docId, by) {
    const pending = touchTimers.get(docId);
    if (pending) {
      pending.by = by;
      return;
    }
    const entry = {
      by,
      timer: setTimeout(() => {
        touchTimers.delete(docId);
        TextDocument.updateOne({ _id: docId }, { $set: { updatedAt: new Date(), lastEditor: entry.by } })
          .exec()
          .catch((err: unknown) => cfg().logger.error({ err, docId }, 'document touch failed'));
      }, TOUCH_EVERY_MS),
    };
    entry.timer.unref();
    touchTimers.set(docId, entry);
  },
  failed: (docId, what, err) => cfg().logger.error({ err, docId, what }, 'document step failed'),
};

/** Bytes as a lean query returns them: a BSON Binary (or a Buffer). */
function bytesOf(value: { buffer: ArrayBufferLike | Uint8Array } | Uint8Array): Uint8Array {
  if (value instanceof Uint8Array) return value;
  return value.buffer instanceof Uint8Array ? value.buffer : new Uint8Array(value.buffer);
}

/**
 * The stored document, rebuilt: its compacted state and every update after it. An update that
 * cannot be applied is skipped (and logged), so one bad row never makes a document unreadable.
 */
async function rebuild(docId: string): Promise<{ state: Uint8Array; seq: number } | undefined> {
  const doc = await TextDocument.findById(docId, { state: 1, stateSeq: 1 }).lean();
  if (!doc) return undefined;
  const updates = await DocumentUpdate.find({ docId, seq: { $gt: doc.stateSeq } }, { seq: 1, update: 1 }).lean();
  updates.sort((a, b) => a.seq - b.seq);
  const ydoc = new Y.Doc();
  try {
    if (doc.state) Y.applyUpdate(ydoc, bytesOf(doc.state));
    for (const row of updates) {
      try {
        Y.applyUpdate(ydoc, bytesOf(row.update));
      } catch (err) {
        cfg().logger.error({ err, docId, seq: row.seq }, 'stored document update skipped');
      }
    }
    return { state: Y.encodeStateAsUpdate(ydoc), seq: Math.max(doc.stateSeq, ...updates.map((u) => u.seq)) };
  } finally {
    ydoc.destroy();
  }
}

/** The document's actor, loaded once however many open it at the same moment. */
async function ensureLoaded(docId: string, meta: Owned): Promise<Loaded> {
  const ready = loaded.get(docId);
  if (ready) return ready;
  const underway = loading.get(docId);
  if (underway) return underway;
  const promise = (async () => {
    // A document still writing its final state is loaded after that, not beside it.
    await unloading.get(docId);
    const stored = await rebuild(docId);
    if (!stored) throw new NotFound('document_not_found');
    const actor = createActor(documentMachine, {
      input: {
        docId,
        state: stored.state,
        seq: stored.seq,
        bytes: stored.state.byteLength,
        maxBytes: cfg().maxBytes,
        idleMs: cfg().idleMs,
        effects,
      },
    });
    const entry: Loaded = {
      actor,
      ownerUserId: meta.ownerUserId ?? undefined,
      organizationId: meta.organizationId ?? undefined,
    };
    actor.subscribe({
      complete: () => unload(docId, entry),
      error: (err: unknown) => {
        cfg().logger.error({ err, docId }, 'document actor crashed; it reloads from the database on next use');
        if (loaded.get(docId) === entry) loaded.delete(docId);
      },
    });
    actor.start();
    loaded.set(docId, entry);
    return entry;
  })().finally(() => loading.delete(docId));
  loading.set(docId, promise);
  return promise;
}

/** The actor finished (idle): its final state is written, then it is gone. */
function unload(docId: string, entry: Loaded): void {
  if (loaded.get(docId) === entry) loaded.delete(docId);
  const { doc, awareness, seq, sinceCompaction } = entry.actor.getSnapshot().context;
  awareness.destroy();
  const state = sinceCompaction > 0 ? Y.encodeStateAsUpdate(doc) : undefined;
  doc.destroy();
  if (!state) return;
  const done = effects
    .compact(docId, state, seq)
    .catch((err: unknown) => effects.failed(docId, 'compact', err))
    .finally(() => unloading.delete(docId));
  unloading.set(docId, done);
}

/** A token bucket per socket and kind: refills at `rate` per second up to `burst`. */
const buckets = new Map<string, { tokens: number; at: number }>();
function take(key: string, rate: number, burst: number): boolean {
  const now = Date.now();
  const bucket = buckets.get(key) ?? { tokens: burst, at: now };
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
  bucket.at = now;
  buckets.set(key, bucket);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

/**
 * Opens a document for a socket: checks the access, loads the document if needed, and answers
 * with the server's sync step 1 and the awareness of the others.
 */
export async function openDocument(caller: Caller, docId: string, clientId: string): Promise<DocOpenValue> {
  const { doc, access } = await loadMeta(caller, docId);
  const entry = await ensureLoaded(docId, doc);
  const opened = await new Promise<{ sync: Uint8Array; awareness: Uint8Array }>((resolve) =>
    entry.actor.send({ type: 'JOIN', clientId, email: caller.email, access, reply: resolve }),
  );
  const docs = openBy.get(clientId) ?? new Set<string>();
  docs.add(docId);
  openBy.set(clientId, docs);
  return { access, title: doc.title, ...opened };
}

/** The loaded document a socket has open, with the caller's current access to it. */
function openFor(caller: Caller, docId: string, clientId: string): { entry: Loaded; access: DocumentAccess } {
  const entry = loaded.get(docId);
  if (!entry || !openBy.get(clientId)?.has(docId)) throw new NotFound('document_not_open');
  // Rights may have changed since the document was opened: checked on every message.
  const access = accessTo(caller, entry);
  if (!access) {
    closeDocument(clientId, docId);
    throw new NotFound('document_not_found');
  }
  return { entry, access };
}

const REFUSALS: Record<Exclude<SyncResult, { ok: true }>['code'], () => Error> = {
  malformed: () => new Invalid('update_malformed'),
  read_only: () => new Forbidden('read_only'),
  too_large: () => new Invalid('document_too_large'),
  store_failed: () => new Error('document update could not be stored'),
};

/**
 * A y-protocols sync message from a socket: step 1 is answered with step 2; an update is stored,
 * applied and relayed before the answer comes. Read-only clients may sync but not change.
 */
export async function syncDocument(
  caller: Caller,
  docId: string,
  clientId: string,
  message: Uint8Array,
): Promise<DocSyncValue> {
  const { entry, access } = openFor(caller, docId, clientId);
  if (!take(`sync:${clientId}`, SYNC_RATE, SYNC_BURST)) throw new RateLimited('too_many_updates', 1);
  // Admitted to edit and lost the right since: it reads along from now on.
  if (access === 'read') entry.actor.send({ type: 'READ_ONLY', clientId });
  const result = await new Promise<SyncResult>((resolve) =>
    entry.actor.send({ type: 'SYNC', clientId, message, reply: resolve }),
  );
  if (!result.ok) throw REFUSALS[result.code]();
  return result.reply ? { reply: result.reply } : {};
}

/**
 * True when a sync message carries a change the user made (a y-protocols update), not the
 * handshake (step 1 and 2) an editor sends by itself on opening and reconnecting.
 */
export function isEdit(message: Uint8Array): boolean {
  try {
    return decoding.readVarUint(decoding.createDecoder(message)) === syncProtocol.messageYjsUpdate;
  } catch {
    return false;
  }
}

/** An awareness update (cursor, name, colour) from a socket; dropped when it comes too often. */
export function awarenessOf(clientId: string, docId: string, update: Uint8Array): void {
  const entry = loaded.get(docId);
  if (!entry || !openBy.get(clientId)?.has(docId)) return;
  if (!take(`awareness:${clientId}`, AWARENESS_RATE, AWARENESS_BURST)) return;
  entry.actor.send({ type: 'AWARENESS', clientId, update });
}

/**
 * Looks again at the documents a socket has open, after the caller's access changed: those it
 * may no longer see are closed, those it may now only read are read-only from now on. Returns the
 * documents that stay open.
 */
export function reviewAccess(caller: Caller, clientId: string): string[] {
  const kept: string[] = [];
  for (const docId of [...(openBy.get(clientId) ?? [])]) {
    const entry = loaded.get(docId);
    const access = entry ? accessTo(caller, entry) : null;
    if (!entry || !access) {
      closeDocument(clientId, docId);
      continue;
    }
    if (access === 'read') entry.actor.send({ type: 'READ_ONLY', clientId });
    kept.push(docId);
  }
  return kept;
}

/** A socket closes a document (or lost access to it). */
export function closeDocument(clientId: string, docId: string): void {
  openBy.get(clientId)?.delete(docId);
  loaded.get(docId)?.actor.send({ type: 'LEAVE', clientId });
}

/** A socket went away: it leaves every document it had open. */
export function disconnected(clientId: string): void {
  for (const docId of openBy.get(clientId) ?? []) loaded.get(docId)?.actor.send({ type: 'LEAVE', clientId });
  openBy.delete(clientId);
  buckets.delete(`sync:${clientId}`);
  buckets.delete(`awareness:${clientId}`);
}

/** Writes every loaded document's state and stops the actors (shutdown). */
export async function stop(): Promise<void> {
  if (dailyTimer) clearInterval(dailyTimer);
  for (const { timer } of touchTimers.values()) clearTimeout(timer);
  touchTimers.clear();
  const entries = [...loaded.entries()];
  loaded.clear();
  for (const [docId, entry] of entries) {
    const { doc, awareness, seq, sinceCompaction } = entry.actor.getSnapshot().context;
    entry.actor.stop();
    awareness.destroy();
    if (sinceCompaction > 0)
      await effects
        .compact(docId, Y.encodeStateAsUpdate(doc), seq)
        .catch((err: unknown) => effects.failed(docId, 'compact', err));
    doc.destroy();
  }
  await Promise.all(unloading.values());
}

// ─── Versions and exports ────────────────────────────────────────────────────────────────────────

/** How often the daily-version job looks for texts that changed. */
const DAILY_CHECK_MS = 3600_000;
const DAY_MS = 24 * 3600_000;
let dailyTimer: NodeJS.Timeout | undefined;

/** The whole document as it is now: from its actor when open, else rebuilt from the database. */
async function currentState(docId: string): Promise<Uint8Array> {
  const open = loaded.get(docId);
  if (open) return Y.encodeStateAsUpdate(open.actor.getSnapshot().context.doc);
  const stored = await rebuild(docId);
  if (!stored) throw new NotFound('document_not_found');
  return stored.state;
}

function versionView(v: DocumentVersionDoc): DocumentVersionView {
  return {
    id: String(v._id),
    kind: v.kind as DocumentVersionView['kind'],
    name: v.name ?? '',
    createdAt: v.createdAt.toISOString(),
    createdBy: v.createdBy ?? '',
  };
}

/** The kept versions of a text, newest first (readers and editors). */
export async function listVersions(caller: Caller, docId: string): Promise<{ items: DocumentVersionView[] }> {
  await loadMeta(caller, docId);
  const versions = (await DocumentVersion.find({ docId }, { state: 0 })
    .sort({ createdAt: -1 })
    .lean()) as DocumentVersionDoc[];
  return { items: versions.map(versionView) };
}

/** Keeps the text as it is now under a name (editors). */
export async function createVersion(caller: Caller, docId: string, name: string): Promise<DocumentVersionView> {
  const { doc, access } = await loadMeta(caller, docId);
  if (access !== 'edit') throw new Forbidden('read_only');
  const state = await currentState(docId);
  const version = (
    await DocumentVersion.create({
      docId,
      kind: 'named',
      name: name.trim(),
      state: Buffer.from(state),
      createdAt: new Date(),
      createdBy: caller.email,
    })
  ).toObject() as DocumentVersionDoc;
  await audit.record({
    action: 'document.version_created',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.title,
    details: { documentId: docId, version: name.trim() },
  });
  return versionView(version);
}

async function loadVersion(docId: string, versionId: string): Promise<DocumentVersionDoc> {
  const version = isObjectId(versionId)
    ? ((await DocumentVersion.findOne({ _id: versionId, docId }).lean()) as DocumentVersionDoc | null)
    : null;
  if (!version) throw new NotFound('version_not_found');
  return version;
}

/** One kept version's content, as Markdown to show (readers and editors). */
export async function getVersion(
  caller: Caller,
  docId: string,
  versionId: string,
): Promise<DocumentVersionView & { markdown: string }> {
  const { doc } = await loadMeta(caller, docId);
  const version = await loadVersion(docId, versionId);
  return { ...versionView(version), markdown: toMarkdown(doc.title, bytesOf(version.state)) };
}

/**
 * The change that turns a document's content into a version's: the version's blocks in place of
 * the current ones, as one Yjs update made on a copy (so it is stored before it is applied, like
 * every other change).
 */
function restoreUpdate(current: Uint8Array, version: Uint8Array): Uint8Array {
  const target = new Y.Doc();
  const old = new Y.Doc();
  try {
    Y.applyUpdate(target, current);
    Y.applyUpdate(old, version);
    const before = Y.encodeStateVector(target);
    const fragment = target.getXmlFragment(DOCUMENT_FIELD);
    const blocks = old
      .getXmlFragment(DOCUMENT_FIELD)
      .toArray()
      .flatMap((node) => (node instanceof Y.XmlElement || node instanceof Y.XmlText ? [node.clone()] : []));
    target.transact(() => {
      fragment.delete(0, fragment.length);
      fragment.insert(0, blocks);
    });
    return Y.encodeStateAsUpdate(target, before);
  } finally {
    target.destroy();
    old.destroy();
  }
}

/** Brings a text back to a kept version (editors); everyone editing sees it at once. */
export async function restoreVersion(caller: Caller, docId: string, versionId: string): Promise<void> {
  const { doc, access } = await loadMeta(caller, docId);
  if (access !== 'edit') throw new Forbidden('read_only');
  const version = await loadVersion(docId, versionId);
  const entry = await ensureLoaded(docId, doc);
  const current = Y.encodeStateAsUpdate(entry.actor.getSnapshot().context.doc);
  // Nothing is lost by a restore: the text as it was is kept first.
  await DocumentVersion.create({
    docId,
    kind: 'before_restore',
    name: version.name,
    state: Buffer.from(current),
    createdAt: new Date(),
    createdBy: caller.email,
  });
  const update = restoreUpdate(current, bytesOf(version.state));
  const result = await new Promise<SyncResult>((resolve) =>
    entry.actor.send({ type: 'APPLY', update, by: caller.email, reply: resolve }),
  );
  if (!result.ok) throw REFUSALS[result.code]();
  await audit.record({
    action: 'document.version_restored',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.title,
    details: { documentId: docId, version: version.name || version.createdAt.toISOString() },
  });
}

/** A text for download: Markdown, or a PDF streamed as it is written (readers and editors). */
export async function exportDocument(
  caller: Caller,
  docId: string,
  format: 'markdown' | 'pdf',
): Promise<{ fileName: string; contentType: string; body: string | NodeJS.ReadableStream }> {
  const { doc } = await loadMeta(caller, docId);
  const state = await currentState(docId);
  await audit.record({
    action: 'document.exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: doc.title,
    details: { documentId: docId, format },
  });
  // A file name from the title: characters no file system takes, and control characters, become _.
  const base =
    [...doc.title]
      .map((ch) => (/[/\\:*?"<>|]/.test(ch) || (ch.codePointAt(0) ?? 0) < 0x20 ? '_' : ch))
      .join('')
      .slice(0, 100) || 'text';
  if (format === 'markdown') {
    return { fileName: `${base}.md`, contentType: 'text/markdown; charset=utf-8', body: toMarkdown(doc.title, state) };
  }
  return {
    fileName: `${base}.pdf`,
    contentType: 'application/pdf',
    body: toPdf(doc.title, state, { author: caller.email, exportedAt: new Date().toISOString() }),
  };
}

/**
 * True when a text needs its daily version: it changed since its newest version (of any kind),
 * and its last daily version is at least a day old.
 */
export function needsDailyVersion(
  doc: { updatedAt: Date; createdAt: Date },
  newestVersionAt: Date | undefined,
  lastDailyAt: Date | undefined,
  now: number,
): boolean {
  if (newestVersionAt && doc.updatedAt <= newestVersionAt) return false;
  return !lastDailyAt || now - lastDailyAt.getTime() >= DAY_MS;
}

/** Makes the daily versions that are due; returns how many. */
export async function makeDailyVersions(now = Date.now()): Promise<number> {
  const changed = (await TextDocument.find(
    { updatedAt: { $gt: new Date(now - 2 * DAY_MS) } },
    { state: 0 },
  ).lean()) as DocumentDoc[];
  let made = 0;
  for (const doc of changed) {
    const docId = String(doc._id);
    const [newest, lastDaily] = await Promise.all([
      DocumentVersion.findOne({ docId }, { createdAt: 1 }).sort({ createdAt: -1 }).lean(),
      DocumentVersion.findOne({ docId, kind: 'daily' }, { createdAt: 1 }).sort({ createdAt: -1 }).lean(),
    ]);
    if (!needsDailyVersion(doc, newest?.createdAt, lastDaily?.createdAt, now)) continue;
    const state = await currentState(docId).catch(() => undefined);
    if (!state) continue;
    await DocumentVersion.create({
      docId,
      kind: 'daily',
      name: '',
      state: Buffer.from(state),
      createdAt: new Date(now),
      createdBy: '',
    });
    made += 1;
  }
  return made;
}

/** Starts the hourly look for texts that need their daily version. */
export function startDailyVersions(): void {
  const run = (): void => {
    makeDailyVersions().then(
      (made) => made && cfg().logger.info({ made }, 'daily versions of texts made'),
      (err: unknown) => cfg().logger.error({ err }, 'daily versions failed'),
    );
  };
  dailyTimer = setInterval(run, DAILY_CHECK_MS);
  dailyTimer.unref();
  setTimeout(run, 60_000).unref();
}
