/*
 * The audit log: appending to the hash chain (and finding its tail without sorting), erasing a
 * person from it, verifying it, and reading it as pages and exports. Long because all of these
 * share the chain's hashing and its cached tail; issue 21 moves pages and exports into their own
 * file beside this one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { containsText, sameText } from '../db/query.js';
import { Forbidden } from '../errors.js';
import type { Bilingual, TableExport } from '../reports/service.js';
import { AuditEntry, blockOf, type AuditEntryDoc, type AuditOutcome } from './model.js';

export type { AuditOutcome };

/** What callers tell the audit log; the log adds time, sequence and hashes. */
export interface AuditInput {
  action: string;
  outcome: AuditOutcome;
  actorId?: string | undefined;
  actorEmail?: string | undefined;
  ip?: string | undefined;
  target?: string | undefined;
  details?: Record<string, string | number | boolean | null> | undefined;
}

/** One entry as the admin page shows it. */
export interface AuditView {
  seq: number;
  at: string;
  actorId: string | null;
  actorEmail: string | null;
  ip: string | null;
  action: string;
  target: string | null;
  outcome: AuditOutcome;
  details: Record<string, unknown> | null;
}

/** Canonical JSON: keys sorted, undefined dropped, so the same entry always hashes the same. */
function canonical(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

type Hashed = Pick<
  AuditEntryDoc,
  | 'seq'
  | 'at'
  | 'actorId'
  | 'actorEmail'
  | 'ip'
  | 'action'
  | 'target'
  | 'outcome'
  | 'details'
  | 'prevHash'
  | 'v'
  | 'personalHash'
>;

/** The commitment to an entry's personal fields: erasable, yet the chain around it verifies. */
function personalCommitment(salt: string, entry: Pick<AuditEntryDoc, 'actorEmail' | 'ip' | 'target'>): string {
  return createHash('sha256')
    .update(
      `${salt}\n${canonical({ actorEmail: entry.actorEmail ?? null, ip: entry.ip ?? null, target: entry.target ?? null })}`,
    )
    .digest('hex');
}

function entryHash(entry: Hashed): string {
  const content =
    entry.v === 2
      ? {
          v: 2,
          seq: entry.seq,
          at: entry.at,
          actorId: entry.actorId ?? null,
          action: entry.action,
          outcome: entry.outcome,
          details: entry.details ?? null,
          personalHash: entry.personalHash ?? null,
        }
      : {
          seq: entry.seq,
          at: entry.at,
          actorId: entry.actorId ?? null,
          actorEmail: entry.actorEmail ?? null,
          ip: entry.ip ?? null,
          action: entry.action,
          target: entry.target ?? null,
          outcome: entry.outcome,
          details: entry.details ?? null,
        };
  return createHash('sha256')
    .update(`${entry.prevHash}\n${canonical(content)}`)
    .digest('hex');
}

/** Appends within this process one at a time; the unique seq index guards against other processes. */
let tail: Promise<unknown> = Promise.resolve();

/**
 * Appends an entry to the hash-chained audit log. Never throws into the caller's flow for a
 * duplicate sequence (another writer won): it retries on the new tail.
 *
 * @example
 * await audit.record({ action: 'login', outcome: 'success', actorId: user.id, ip });
 */
export function record(input: AuditInput): Promise<void> {
  const next = tail.then(() => append(input));
  tail = next.catch(() => undefined);
  return next;
}

/** An entry as it is stored: the input with its place in the chain, salt and hashes. */
export type ChainedEntry = Hashed & { block: number; salt: string; hash: string };

/**
 * The entry that follows `last` in the chain (the first when there is none), as {@link record}
 * stores it. Exported for writers that append many entries at once, such as the volume benchmark's
 * seeding, which must leave a chain that {@link verifyChain} accepts.
 *
 * @example
 * const first = chainEntry({ action: 'login.succeeded', outcome: 'success' }, undefined, new Date());
 * const second = chainEntry({ action: 'logout', outcome: 'success' }, first, new Date());
 */
export function chainEntry(
  input: AuditInput,
  last: { seq: number; hash: string } | undefined,
  at: Date = new Date(),
): ChainedEntry {
  const salt = randomBytes(16).toString('base64url');
  const personal = { actorEmail: input.actorEmail, ip: input.ip, target: input.target };
  const entry: Hashed = {
    v: 2,
    seq: (last?.seq ?? 0) + 1,
    at,
    actorId: input.actorId,
    ...personal,
    action: input.action,
    outcome: input.outcome,
    details: input.details,
    personalHash: personalCommitment(salt, personal),
    prevHash: last?.hash ?? '',
  };
  return { ...entry, block: blockOf(entry.seq), salt, hash: entryHash(entry) };
}

/** The newest entry this process knows of; checked before each append, so it may go stale safely. */
let knownTail: { seq: number; hash: string } | undefined;

function entryAt(seq: number): Promise<{ seq: number; hash: string } | null> {
  return AuditEntry.findOne({ seq }, { _id: 0, seq: 1, hash: 1 }).lean<{ seq: number; hash: string }>();
}

/**
 * The chain's last entry, found by look-ups of single sequence numbers (the chain has no gaps):
 * forward from a known entry, else by doubling and halving from the first. Each look-up is an
 * equality on the unique `seq`, which every engine answers from its index; asking for the highest
 * `seq` by sorting made FerretDB read the whole log on every append (1 s at 10,000 entries).
 */
async function findTail(
  from: { seq: number; hash: string } | undefined,
): Promise<{ seq: number; hash: string } | undefined> {
  if (from) {
    let tail = from;
    for (let next = await entryAt(tail.seq + 1); next; next = await entryAt(tail.seq + 1)) tail = next;
    return tail;
  }
  if (!(await entryAt(1))) return undefined;
  let present = 1;
  let absent = 2;
  while (await entryAt(absent)) {
    present = absent;
    absent *= 2;
  }
  while (absent - present > 1) {
    const middle = Math.floor((present + absent) / 2);
    if (await entryAt(middle)) present = middle;
    else absent = middle;
  }
  return (await entryAt(present)) ?? undefined;
}

/**
 * The chain's last entry now. The tail this process knows must still be there as it was (a
 * restore may have replaced the log); whatever other processes appended since is walked over.
 */
async function currentTail(): Promise<{ seq: number; hash: string } | undefined> {
  const known = knownTail && (await entryAt(knownTail.seq));
  return findTail(known && known.hash === knownTail?.hash ? known : undefined);
}

async function append(input: AuditInput): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const last = await currentTail();
    const entry = chainEntry(input, last);
    try {
      await AuditEntry.create(entry);
      knownTail = { seq: entry.seq, hash: entry.hash };
      return;
    } catch (err) {
      // Another process appended first: walk forward from what was the tail.
      knownTail = last;
      if ((err as { code?: number }).code !== 11000 || attempt >= 20) throw err;
    }
  }
}

/** Result of {@link verifyChain}. */
export interface ChainReport {
  ok: boolean;
  entries: number;
  /** The first entry whose hash or link does not match, when not ok. */
  brokenAt?: number;
  reason?: 'hash' | 'link' | 'gap';
}

/** The pseudonym that replaces an erased person's e-mail address in the log. */
export const ERASED = 'gelöschte Person';

/**
 * Erases a person's personal fields from the log: their address as actor or target, and the IP
 * addresses of their own entries. Only the salt-committed fields of version-2 entries change, so
 * the chain still verifies; what happened, when and by which (pseudonymous) account id stays.
 * Returns how many entries were changed, and how many older entries could not be (hashed whole).
 */
export async function erasePerson(person: {
  userId?: string | undefined;
  emails: readonly string[];
  requestId: string;
}): Promise<{ erased: number; kept: number }> {
  const emails = person.emails.map((e) => e.toLowerCase());
  const patterns = emails.map(sameText);
  const filter = {
    $or: [
      ...(person.userId ? [{ actorId: person.userId }] : []),
      ...patterns.map((p) => ({ actorEmail: p })),
      ...patterns.map((p) => ({ target: p })),
    ],
  };
  let erased = 0;
  let kept = 0;
  for await (const doc of AuditEntry.find(filter).lean().cursor()) {
    const entry = doc as unknown as AuditEntryDoc & { _id: unknown };
    if (entry.v !== 2) {
      kept += 1;
      continue;
    }
    const own = person.userId !== undefined && entry.actorId === person.userId;
    const targetIsPerson = typeof entry.target === 'string' && emails.includes(entry.target.toLowerCase());
    const actorIsPerson = typeof entry.actorEmail === 'string' && emails.includes(entry.actorEmail.toLowerCase());
    await AuditEntry.updateOne(
      { _id: entry._id },
      {
        $set: {
          erasedBy: person.requestId,
          ...(own || actorIsPerson ? { actorEmail: ERASED } : {}),
          ...(targetIsPerson ? { target: ERASED } : {}),
        },
        $unset: { salt: 1, ...(own || actorIsPerson ? { ip: 1 } : {}) },
      },
    );
    erased += 1;
  }
  return { erased, kept };
}

/** Recomputes every hash in order; reports the first entry that was altered, removed or inserted. */
export async function verifyChain(): Promise<ChainReport> {
  let prevHash = '';
  let expectedSeq = 1;
  let entries = 0;
  for await (const doc of AuditEntry.find({}).sort({ seq: 1 }).lean().cursor()) {
    const entry = doc as unknown as AuditEntryDoc;
    if (entry.seq !== expectedSeq) return { ok: false, entries, brokenAt: expectedSeq, reason: 'gap' };
    if (entry.prevHash !== prevHash) return { ok: false, entries, brokenAt: entry.seq, reason: 'link' };
    if (entryHash(entry) !== entry.hash) return { ok: false, entries, brokenAt: entry.seq, reason: 'hash' };
    // Personal fields are checked against their commitment until they are erased (salt gone).
    if (entry.v === 2 && entry.salt && personalCommitment(entry.salt, entry) !== entry.personalHash)
      return { ok: false, entries, brokenAt: entry.seq, reason: 'hash' };
    prevHash = entry.hash;
    expectedSeq++;
    entries++;
  }
  return { ok: true, entries };
}

type StoredEntry = Pick<
  AuditEntryDoc,
  'seq' | 'at' | 'actorId' | 'actorEmail' | 'ip' | 'action' | 'target' | 'outcome' | 'details'
>;

function toView(d: StoredEntry): AuditView {
  return {
    seq: d.seq,
    at: d.at.toISOString(),
    actorId: d.actorId ?? null,
    actorEmail: d.actorEmail ?? null,
    ip: d.ip ?? null,
    action: d.action,
    target: d.target ?? null,
    outcome: d.outcome as AuditOutcome,
    details: (d.details as Record<string, unknown> | undefined) ?? null,
  };
}

/** Filters of the admin audit page. */
export interface AuditQuery {
  action?: string | undefined;
  actorId?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** Free text matched against the actor's e-mail and the target. */
  text?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  page: number;
  pageSize: number;
}

/** The database filter of the audit page's filters (shared by the page and the export). */
function auditFilter(query: Omit<AuditQuery, 'page' | 'pageSize'>): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  if (query.action) filter.action = query.action;
  if (query.actorId) filter.actorId = query.actorId;
  if (query.outcome) filter.outcome = query.outcome;
  if (query.text) {
    const re = containsText(query.text);
    filter.$or = [{ actorEmail: re }, { target: re }];
  }
  if (query.from || query.to) {
    filter.at = { ...(query.from ? { $gte: query.from } : {}), ...(query.to ? { $lte: query.to } : {}) };
  }
  return filter;
}

/**
 * The page as it opens, without filters: the chain has no gaps, so its last `seq` is the number of
 * entries and page p holds the sequence numbers below it. They are read by their page blocks (one
 * or two equality look-ups on an index, on every engine; fifty look-ups of single entries cost
 * FerretDB 45 ms at the median and spikes of several hundred). Entries written before blocks
 * existed are read one by one by `seq`. Sorting the whole log for a page took FerretDB 1.6 s at
 * 10,000 entries. A filtered page still reads every entry (issue 18 continues there).
 */
async function unfilteredPage(page: number, pageSize: number): Promise<{ items: AuditView[]; total: number }> {
  const last = await findTail(
    knownTail && (await entryAt(knownTail.seq))?.hash === knownTail.hash ? knownTail : undefined,
  );
  const total = last?.seq ?? 0;
  const high = total - (page - 1) * pageSize;
  const wanted = Array.from({ length: Math.max(0, Math.min(pageSize, high)) }, (_, i) => high - i);
  const blocks = [...new Set(wanted.map(blockOf))];
  const found = new Map<number, StoredEntry>();
  for (const doc of (await Promise.all(blocks.map((block) => AuditEntry.find({ block }).lean()))).flat())
    found.set(doc.seq, doc);
  const unblocked = wanted.filter((seq) => !found.has(seq));
  for (const doc of await Promise.all(unblocked.map((seq) => AuditEntry.findOne({ seq }).lean())))
    if (doc) found.set(doc.seq, doc);
  return { total, items: wanted.flatMap((seq) => (found.has(seq) ? [toView(found.get(seq) as StoredEntry)] : [])) };
}

/** One page of entries, newest first, for administrators only. */
export async function list(
  caller: { role: string },
  query: AuditQuery,
): Promise<{ items: AuditView[]; total: number }> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const filter = auditFilter(query);
  if (Object.keys(filter).length === 0) return unfilteredPage(query.page, query.pageSize);
  const [docs, total] = await Promise.all([
    AuditEntry.find(filter)
      .sort({ seq: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    AuditEntry.countDocuments(filter),
  ]);
  return {
    total,
    items: docs.map(toView),
  };
}

/** The newest entries a user caused, for the admin's user page (the caller checked the rights). */
export async function listForActor(actorId: string, limit: number): Promise<AuditView[]> {
  const docs = await AuditEntry.find({ actorId }).sort({ seq: -1 }).limit(limit).lean();
  return docs.map(toView);
}

/** Creates the audit collection's indexes (autoIndex is off). */
export async function init(): Promise<void> {
  await AuditEntry.createIndexes();
}

/** The columns of an audit export. */
const AUDIT_COLUMNS: TableExport<AuditRow>['columns'] = [
  { key: 'seq', header: { de: 'Nr.', en: 'No.' }, width: 5 },
  { key: 'at', header: { de: 'Zeit', en: 'Time' }, width: 14 },
  { key: 'actor', header: { de: 'Wer', en: 'Who' }, width: 16 },
  { key: 'ip', header: { de: 'Adresse', en: 'Address' }, width: 10 },
  { key: 'action', header: { de: 'Aktion', en: 'Action' }, width: 14 },
  { key: 'target', header: { de: 'Ziel', en: 'Target' }, width: 14 },
  { key: 'outcome', header: { de: 'Ergebnis', en: 'Outcome' }, width: 7 },
  { key: 'details', header: { de: 'Details', en: 'Details' }, width: 20 },
];

/** One audit entry as an export writes it. */
export interface AuditRow extends Record<string, unknown> {
  seq: number;
  at: Date;
  actor: string;
  ip: string;
  action: string;
  target: string;
  outcome: Bilingual;
  details: string;
}

/** An entry's outcome in the words of the audit page. */
const OUTCOMES: Readonly<Record<AuditOutcome, Bilingual>> = {
  success: { de: 'erfolgreich', en: 'succeeded' },
  failure: { de: 'fehlgeschlagen', en: 'failed' },
  denied: { de: 'abgewiesen', en: 'denied' },
};

/**
 * The audit log for an export (administrators), oldest first with the page's filters, read from a
 * cursor in batches as the export consumes it. The export itself is logged too.
 */
export async function rowsForExport(
  caller: { role: string; userId?: string; email?: string; ip?: string },
  query: Omit<AuditQuery, 'page' | 'pageSize'>,
): Promise<TableExport<AuditRow>> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const filter = auditFilter(query);
  await record({
    action: 'audit.exported',
    outcome: 'success',
    actorId: caller.userId,
    actorEmail: caller.email,
    ip: caller.ip,
    details: { action: query.action ?? null, text: query.text ?? null },
  });
  async function* rows(): AsyncGenerator<AuditRow> {
    const cursor = AuditEntry.find(filter).sort({ seq: 1 }).lean().cursor({ batchSize: 1000 });
    try {
      for await (const d of cursor) {
        yield {
          seq: d.seq,
          at: d.at,
          actor: d.actorEmail ?? d.actorId ?? '',
          ip: d.ip ?? '',
          action: d.action,
          target: d.target ?? '',
          outcome: OUTCOMES[d.outcome as AuditOutcome] ?? { de: d.outcome, en: d.outcome },
          details: d.details ? JSON.stringify(d.details) : '',
        };
      }
    } finally {
      await cursor.close();
    }
  }
  return {
    name: 'protokoll',
    title: { de: 'Protokoll', en: 'Audit log' },
    filters: [
      ...(query.action ? [query.action] : []),
      ...(query.outcome ? [OUTCOMES[query.outcome]] : []),
      ...(query.text ? [`„${query.text}“`] : []),
    ],
    columns: AUDIT_COLUMNS,
    total: await AuditEntry.countDocuments(filter),
    rows: rows(),
  };
}
