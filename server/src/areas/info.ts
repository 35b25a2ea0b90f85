/*
 * Areas 1 and 2: information an operator leaves for a person or a company domain, its versions, read
 * marks, attachments and notices. Long by one concern per scope; issue 21 separates reading from writing.
 */
import type {
  AreaSummary,
  FileView,
  InfoCreate,
  InfoEntry as InfoEntryView,
  InfoList,
  InfoScope,
} from '@kis/protocol/api';
import * as audit from '../audit/service.js';
import { isObjectId } from '../db/query.js';
import { Conflict, Invalid, NotFound } from '../errors.js';
import type { Caller } from '../identity/service.js';
import * as identity from '../identity/service.js';
import * as addressStanding from '../identity/address-standing.js';
import * as organizations from '../identity/organizations.js';
import { isPublicMailDomain } from '../identity/public-mail-domains.js';
import { assertOperator, assertReadInfo, mayReadInfo } from './access.js';
import * as files from './files.js';
import { InfoEntry, InfoRead, InfoVersion, type InfoEntryDoc } from './info-model.js';

/** A plausible address: one @, something before, a dotted domain after. Registration checks the rest. */
const EMAIL = /^[^\s@]{1,64}@([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const DOMAIN = /^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** What the caller's address opens: entries left for it (area 1) and its company's domain (area 2). */
function readerAddress(caller: Caller): Promise<addressStanding.ReaderAddress> {
  return addressStanding.readerAddressOf(caller.userId);
}

function view(doc: InfoEntryDoc, attachments: FileView[], unread: boolean): InfoEntryView {
  return {
    id: String(doc._id),
    scope: doc.scope as InfoScope,
    target: (doc.scope === 'person' ? doc.emailLower : doc.domain) ?? '',
    title: doc.title,
    body: doc.body ?? '',
    attachments,
    version: doc.version,
    createdAt: doc.createdAt.toISOString(),
    updatedAt: doc.updatedAt.toISOString(),
    unread,
  };
}

/** What a reader's list of a scope selects; null when the reader has no such area. */
async function readerFilter(caller: Caller, scope: InfoScope): Promise<Record<string, unknown> | null> {
  const address = await readerAddress(caller);
  if (scope === 'person') {
    // By account, or by address while no account is bound (an entry that followed its person to a
    // new address is not shown to whoever takes the old one), and only once the address is proven:
    // an account made for somebody else's address must not read what was left for that person.
    return address.verified
      ? {
          scope,
          $or: [{ userId: caller.userId }, { emailLower: caller.email.toLowerCase(), userId: { $exists: false } }],
        }
      : { scope, userId: caller.userId };
  }
  return address.companyDomain ? { scope, domain: address.companyDomain } : null;
}

/** Versions the reader has read, by entry id. */
async function readVersions(userId: string, entryIds: readonly string[]): Promise<Map<string, number>> {
  if (!entryIds.length) return new Map();
  const reads = await InfoRead.find({ _id: { $in: entryIds.map((id) => `${id}:${userId}`) } }).lean();
  return new Map(reads.map((r) => [r.entryId, r.version]));
}

async function unreadCount(caller: Caller, filter: Record<string, unknown>): Promise<number> {
  const all = await InfoEntry.find(filter, { _id: 1, version: 1 }).lean();
  const read = await readVersions(
    caller.userId,
    all.map((d) => String(d._id)),
  );
  return all.filter((d) => (read.get(String(d._id)) ?? 0) < d.version).length;
}

/** The operator's filter for one target: a person's address or a domain. */
function targetFilter(scope: InfoScope, query: { email?: string | undefined; domain?: string | undefined }) {
  if (scope === 'person') {
    const email = query.email?.trim().toLowerCase();
    if (!email) throw new Invalid('target_missing', 'name the person by e-mail');
    return { scope, emailLower: email };
  }
  const domain = query.domain?.trim().toLowerCase().replace(/^@/, '');
  if (!domain) throw new Invalid('target_missing', 'name the domain');
  return { scope, domain };
}

/**
 * One page of entries, newest change first. A customer reads their own area 1 (`person`) or
 * their company's area 2 (`domain`); an operator names the person or domain to manage.
 */
export async function listInfo(
  caller: Caller,
  query: { scope: InfoScope; email?: string | undefined; domain?: string | undefined; page: number; pageSize: number },
): Promise<InfoList> {
  const asOperator = caller.role === 'admin' && (query.email !== undefined || query.domain !== undefined);
  let filter: Record<string, unknown> | null;
  if (asOperator) filter = targetFilter(query.scope, query);
  else {
    assertReadInfo(caller);
    filter = await readerFilter(caller, query.scope);
  }
  if (!filter) return { items: [], total: 0, unread: 0 };
  const [docs, total] = await Promise.all([
    InfoEntry.find(filter)
      .sort({ updatedAt: -1, _id: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean() as Promise<InfoEntryDoc[]>,
    InfoEntry.countDocuments(filter),
  ]);
  const ids = docs.map((d) => String(d._id));
  const [attachments, read] = await Promise.all([
    files.attachmentsOf(ids),
    asOperator ? Promise.resolve(new Map<string, number>()) : readVersions(caller.userId, ids),
  ]);
  if (
    !asOperator &&
    query.scope === 'person' &&
    docs.some((d) => !d.userId) &&
    (await readerAddress(caller)).verified
  ) {
    // Written before the person registered: bind to the account, so an e-mail change keeps them.
    await InfoEntry.updateMany(
      { scope: 'person', emailLower: caller.email.toLowerCase(), userId: { $exists: false } },
      { $set: { userId: caller.userId } },
    );
  }
  return {
    items: docs.map((d) =>
      view(d, attachments.get(String(d._id)) ?? [], !asOperator && (read.get(String(d._id)) ?? 0) < d.version),
    ),
    total,
    unread: asOperator ? 0 : await unreadCount(caller, filter),
  };
}

/** An entry the caller may read: operators any, a reader their own; NotFound for everything else. */
async function readableEntry(caller: Caller, entryId: string): Promise<InfoEntryDoc> {
  const doc = isObjectId(entryId) ? ((await InfoEntry.findById(entryId).lean()) as InfoEntryDoc | null) : null;
  if (!doc) throw new NotFound('info_not_found');
  if (caller.role === 'admin') return doc;
  if (!mayReadInfo(caller)) throw new NotFound('info_not_found');
  if (doc.scope === 'person') {
    if (doc.userId === caller.userId) return doc;
    if (!doc.userId && doc.emailLower === caller.email.toLowerCase() && (await readerAddress(caller)).verified)
      return doc;
    throw new NotFound('info_not_found');
  }
  if (doc.domain && doc.domain === (await readerAddress(caller)).companyDomain) return doc;
  throw new NotFound('info_not_found');
}

async function loadForOperator(caller: Caller, entryId: string): Promise<InfoEntryDoc> {
  assertOperator(caller);
  return readableEntry(caller, entryId);
}

/** Tells the readers of an entry that their area changed. */
function announce(doc: Pick<InfoEntryDoc, 'scope' | 'userId' | 'domain'>): void {
  const notifier = files.notify();
  if (!notifier) return;
  if (doc.scope === 'person' && doc.userId) notifier.user(doc.userId, { area: 'personal' });
  if (doc.scope === 'domain' && doc.domain) notifier.domain(doc.domain, { area: 'company' });
}

/**
 * Writes an entry (operators): for one person by address, registered or not (they see it once
 * they register), or for a company domain an operator has confirmed (never a public mail domain).
 * A registered person is also told by mail.
 */
export async function createInfo(caller: Caller, input: InfoCreate): Promise<InfoEntryView> {
  assertOperator(caller);
  const now = new Date();
  const base = { title: input.title.trim(), body: input.body, version: 1, createdAt: now, updatedAt: now };
  let target: Record<string, unknown>;
  let account: identity.AccountRef | undefined;
  if (input.scope === 'person') {
    const email = input.email.trim().toLowerCase();
    if (!EMAIL.test(email)) throw new Invalid('email_invalid');
    account = await identity.findAccountByEmail(email);
    target = { emailLower: email, ...(account ? { userId: account.id } : {}) };
  } else {
    const domain = input.domain.trim().toLowerCase().replace(/^@/, '');
    if (!DOMAIN.test(domain)) throw new Invalid('domain_invalid');
    if (isPublicMailDomain(domain)) throw new Invalid('domain_public');
    if (!(await organizations.organizationOfDomain(domain))) throw new Invalid('domain_not_confirmed');
    target = { domain };
  }
  const doc = (
    await InfoEntry.create({ scope: input.scope, ...target, ...base, createdBy: caller.email, updatedBy: caller.email })
  ).toObject() as InfoEntryDoc;
  await audit.record({
    action: 'info.created',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: (doc.emailLower ?? doc.domain) || undefined,
    details: { entryId: String(doc._id), scope: doc.scope, title: doc.title },
  });
  announce(doc);
  if (account && account.status === 'active') {
    await identity.mailAccount(account.id, 'info_added', {
      title: doc.title,
      link: `${identity.publicUrl()}/informationen`,
    });
  }
  return view(doc, [], false);
}

/** Keeps a version as it was before a change or a deletion. */
async function keepVersion(doc: InfoEntryDoc): Promise<void> {
  await InfoVersion.create({
    entryId: String(doc._id),
    version: doc.version,
    title: doc.title,
    body: doc.body ?? '',
    changedAt: doc.updatedAt,
    changedBy: doc.updatedBy,
  });
}

/**
 * Changes an entry's title or body (operators). The version it had is kept; an edit based on an
 * older version than the stored one is refused (somebody else changed it meanwhile).
 */
export async function updateInfo(
  caller: Caller,
  entryId: string,
  input: { title?: string | undefined; body?: string | undefined; version: number },
): Promise<InfoEntryView> {
  const doc = await loadForOperator(caller, entryId);
  if (doc.version !== input.version) throw new Conflict('info_changed');
  const set: Record<string, unknown> = { updatedAt: new Date(), updatedBy: caller.email };
  if (input.title !== undefined) set.title = input.title.trim();
  if (input.body !== undefined) set.body = input.body;
  await keepVersion(doc);
  const updated = (await InfoEntry.findOneAndUpdate(
    { _id: doc._id, version: doc.version },
    { $set: set, $inc: { version: 1 } },
    { new: true },
  ).lean()) as InfoEntryDoc | null;
  if (!updated) {
    await InfoVersion.deleteOne({ entryId: String(doc._id), version: doc.version, changedAt: doc.updatedAt });
    throw new Conflict('info_changed');
  }
  await audit.record({
    action: 'info.updated',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: (doc.emailLower ?? doc.domain) || undefined,
    details: {
      entryId,
      version: updated.version,
      fields: Object.keys(set)
        .filter((k) => !k.startsWith('updated'))
        .join(','),
    },
  });
  announce(updated);
  const attachments = await files.attachmentsOf([entryId]);
  return view(updated, attachments.get(entryId) ?? [], false);
}

/** Deletes an entry and its attachments (operators); its last version is kept with the others. */
export async function deleteInfo(caller: Caller, entryId: string): Promise<void> {
  const doc = await loadForOperator(caller, entryId);
  await keepVersion(doc);
  await InfoEntry.deleteOne({ _id: doc._id });
  const removed = await files.removeAttachments(entryId);
  await InfoRead.deleteMany({ entryId });
  await audit.record({
    action: 'info.deleted',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: (doc.emailLower ?? doc.domain) || undefined,
    details: { entryId, title: doc.title, attachments: removed },
  });
  announce(doc);
}

/** The earlier versions of an entry, newest first (operators). */
export async function listVersions(
  caller: Caller,
  entryId: string,
): Promise<{
  items: Array<{ version: number; title: string; body: string; changedAt: string; changedBy: string | null }>;
}> {
  assertOperator(caller);
  if (!isObjectId(entryId)) throw new NotFound('info_not_found');
  const docs = await InfoVersion.find({ entryId }).sort({ version: -1 }).lean();
  if (!docs.length && !(await InfoEntry.exists({ _id: entryId }))) throw new NotFound('info_not_found');
  return {
    items: docs.map((d) => ({
      version: d.version,
      title: d.title,
      body: d.body ?? '',
      changedAt: d.changedAt.toISOString(),
      changedBy: d.changedBy ?? null,
    })),
  };
}

/** Marks an entry as read by the caller in its current version. */
export async function markRead(caller: Caller, entryId: string): Promise<void> {
  const doc = await readableEntry(caller, entryId);
  if (caller.role === 'admin' && doc.userId !== caller.userId) return;
  await InfoRead.updateOne(
    { _id: `${entryId}:${caller.userId}` },
    { $set: { entryId, userId: caller.userId, version: doc.version, at: new Date() } },
    { upsert: true },
  );
}

/** Attaches a file to an entry (operators); readers are told. */
export async function addAttachment(caller: Caller, entryId: string, upload: files.UploadInput): Promise<FileView> {
  const doc = await loadForOperator(caller, entryId);
  const file = await files.storeAttachment(caller, entryId, upload);
  await audit.record({
    action: 'info.attachment_added',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: (doc.emailLower ?? doc.domain) || undefined,
    details: { entryId, file: file.name, size: file.size, sha256: file.sha256 },
  });
  announce(doc);
  return file;
}

/** Removes an attachment from an entry (operators). */
export async function removeAttachment(caller: Caller, entryId: string, fileId: string): Promise<void> {
  const doc = await loadForOperator(caller, entryId);
  if (!(await files.removeAttachments(entryId, fileId))) throw new NotFound('file_not_found');
  await audit.record({
    action: 'info.attachment_removed',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: (doc.emailLower ?? doc.domain) || undefined,
    details: { entryId, fileId },
  });
  announce(doc);
}

/** Opens an attachment of an entry the caller may read, and logs the access. */
export async function openAttachment(caller: Caller, entryId: string, fileId: string): Promise<files.Download> {
  await readableEntry(caller, entryId);
  const download = await files.openAttachment(entryId, fileId);
  await audit.record({
    action: 'file.downloaded',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    target: download.file.name,
    details: { fileId, entryId, size: download.file.size },
  });
  return download;
}

/** The overview of the caller's areas: unread counts for the badges, files, and what they may do. */
export async function summary(caller: Caller): Promise<AreaSummary> {
  const mayRead = mayReadInfo(caller);
  const mayManageFiles = files.mayUseFiles(caller);
  const companyDomain = mayRead ? (await readerAddress(caller)).companyDomain : null;
  const [personalUnread, companyUnread, counts] = await Promise.all([
    mayRead ? readerFilter(caller, 'person').then((f) => (f ? unreadCount(caller, f) : 0)) : 0,
    companyDomain ? unreadCount(caller, { scope: 'domain', domain: companyDomain }) : 0,
    mayManageFiles ? files.countFiles(caller.userId) : { files: 0, stale: 0 },
  ]);
  return {
    personalUnread,
    companyUnread,
    companyDomain,
    files: counts.files,
    staleFiles: counts.stale,
    mayRead,
    mayManageFiles,
  };
}

/**
 * A deleted account's areas go with it: its files, its read marks, and the entries written for
 * that person alone (with their attachments and versions). Company entries stay for the others.
 */
/** The entries left for a person (by account or address) with the versions they read, for their data export. */
export async function personalEntriesForExport(account: { id: string; email: string }): Promise<unknown[]> {
  // Entries left for the address before an account existed count only once the address is proven.
  const { verified } = await addressStanding.readerAddressOf(account.id);
  const entries = await InfoEntry.find(
    verified
      ? {
          scope: 'person',
          $or: [{ userId: account.id }, { emailLower: account.email.toLowerCase(), userId: { $exists: false } }],
        }
      : { scope: 'person', userId: account.id },
  ).lean();
  const reads = new Map(
    (await InfoRead.find({ userId: account.id }).lean()).map((r) => [String(r.entryId), r] as const),
  );
  return entries.map((e) => ({
    id: String(e._id),
    title: e.title,
    body: e.body,
    version: e.version,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    readVersion: reads.get(String(e._id))?.version ?? null,
  }));
}

/** Removes a person's personal areas: files, read marks, entries addressed to them (also without an account). */
export async function removePersonalAreas(account: { id: string; email: string }): Promise<void> {
  const removedFiles = await files.removeFileArea(account.id);
  await InfoRead.deleteMany({ userId: account.id });
  const entries = await InfoEntry.find(
    {
      scope: 'person',
      $or: [{ userId: account.id }, { emailLower: account.email.toLowerCase(), userId: { $exists: false } }],
    },
    { _id: 1 },
  ).lean();
  for (const entry of entries) {
    const id = String(entry._id);
    await files.removeAttachments(id);
    await InfoVersion.deleteMany({ entryId: id });
    await InfoEntry.deleteOne({ _id: entry._id });
  }
  await audit.record({
    action: 'areas.removed_with_account',
    outcome: 'success',
    target: account.email,
    details: { files: removedFiles, entries: entries.length },
  });
}

/** Creates the collections' indexes and removes a person's areas when their account is deleted. */
export async function init(): Promise<void> {
  await Promise.all([InfoEntry.createIndexes(), InfoVersion.createIndexes(), InfoRead.createIndexes()]);
  identity.onAccountDeleted(removePersonalAreas);
}
