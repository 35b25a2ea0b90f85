import { createHmac } from 'node:crypto';
import * as areaDocuments from '../areas/documents.js';
import * as areaFiles from '../areas/files.js';
import * as areaInfo from '../areas/info.js';
import * as audit from '../audit/service.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { deriveKey } from '../crypto/tokens.js';
import * as depots from '../depots/service.js';
import { Forbidden, Invalid } from '../errors.js';
import * as identityErasure from '../identity/personal-data.js';
import type { Caller } from '../identity/service.js';
import * as identity from '../identity/service.js';
import * as addressStanding from '../identity/address-standing.js';
import type { Logger } from '../logger.js';
import * as mail from '../mail/service.js';
import { formatWhen } from '../mail/templates.js';
import * as paymentsErasure from '../payments/erasure.js';
import { ErasureRequest, type ErasureDoc, type ErasureReason } from './model.js';

export { erasureFigures, type ErasureFigures } from './figures.js';

/**
 * Erasure of a person's data, on an operator's request, a revocation of consent, or the person
 * deleting their account. A request waits while the person still has active transfers (files
 * handed to them and not yet stale, open invoices, valid PINs); a job completes due requests,
 * tells every operator by mail and writes what was removed to the system log and the audit log.
 */

export interface ErasureSettings {
  box: SecretBox;
  masterKey: Buffer;
  logger: Logger;
  publicUrl: string;
  timeZone: string;
  /** How often the job looks for due requests. */
  checkMs: number;
}

/** An erasure request as operators see it. */
export interface ErasureView {
  id: string;
  /** The address while the request waits; masked once it is done. */
  email: string;
  reason: ErasureReason;
  requestedBy: string;
  state: 'waiting' | 'done';
  notBefore: string;
  waitingFor: string[];
  createdAt: string;
  completedAt: string | null;
  report: Record<string, unknown> | null;
  kept: string;
}

/** Days the sealed address stays with a done request (the operators' notice reads it). */
const SEALED_DAYS = 30;

let settings: ErasureSettings | undefined;
let timer: NodeJS.Timeout | undefined;
let running: Promise<unknown> | undefined;

function cfg(): ErasureSettings {
  if (!settings) throw new Error('privacy not initialised');
  return settings;
}

function emailHash(email: string): string {
  return createHmac('sha256', deriveKey(cfg().masterKey, 'erasure-email'))
    .update(email.trim().toLowerCase())
    .digest('hex');
}

function sealContext(id: string): string {
  return `privacy:erasure:${id}`;
}

function unseal(doc: Pick<ErasureDoc, '_id' | 'sealedEmail'>): string | undefined {
  return doc.sealedEmail
    ? cfg()
        .box.open(doc.sealedEmail, sealContext(String(doc._id)))
        .toString()
    : undefined;
}

function mask(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}…@${domain}`;
}

function view(doc: ErasureDoc): ErasureView {
  const email = unseal(doc);
  return {
    id: String(doc._id),
    email: email ? (doc.state === 'waiting' ? email : mask(email)) : '—',
    reason: doc.reason as ErasureReason,
    requestedBy: doc.requestedBy,
    state: doc.state as 'waiting' | 'done',
    notBefore: doc.notBefore.toISOString(),
    waitingFor: doc.waitingFor ?? [],
    createdAt: doc.createdAt.toISOString(),
    completedAt: doc.completedAt?.toISOString() ?? null,
    report: (doc.report as Record<string, unknown> | undefined) ?? null,
    kept: doc.kept ?? '',
  };
}

/** Whose records a request touches: see {@link paymentsErasure.RecordScope}. */
function scopeOf(doc: Pick<ErasureDoc, 'accountOnly' | 'scopeOrganizationId'>): paymentsErasure.RecordScope {
  return doc.accountOnly ? { organizationId: doc.scopeOrganizationId ?? null } : 'everywhere';
}

/** Until when a person has active transfers, and which. */
async function activeTransfers(
  email: string,
  scope: paymentsErasure.RecordScope,
): Promise<{ until: Date | undefined; kinds: string[] }> {
  const account = await identityErasure.accountOf(email);
  const found: Array<[string, Date | undefined]> = [
    ['files', account ? await areaFiles.handedFilesUntil(account.id) : undefined],
    ['pins', account ? await depots.validPinsUntil(account.id) : undefined],
    ['invoices', await paymentsErasure.activeUntil(email, scope)],
  ];
  let until: Date | undefined;
  const kinds: string[] = [];
  for (const [kind, date] of found) {
    if (!date) continue;
    kinds.push(kind);
    if (!until || date > until) until = date;
  }
  return { until, kinds };
}

async function createRequest(
  email: string,
  reason: ErasureReason,
  /** `label`: an operator's address; empty when the person asked themselves (the page and mail say so). */
  requestedBy: { id?: string | undefined; label: string },
  scope: paymentsErasure.RecordScope = 'everywhere',
): Promise<ErasureDoc> {
  const address = email.trim().toLowerCase();
  const open = (await ErasureRequest.findOne({
    emailHash: emailHash(address),
    state: 'waiting',
  }).lean()) as ErasureDoc | null;
  if (open) return open;
  const transfers = await activeTransfers(address, scope);
  const doc = new ErasureRequest({
    emailHash: emailHash(address),
    reason,
    ...(scope === 'everywhere'
      ? {}
      : { accountOnly: true, ...(scope.organizationId ? { scopeOrganizationId: scope.organizationId } : {}) }),
    requestedById: requestedBy.id,
    requestedBy: requestedBy.label,
    state: 'waiting',
    notBefore: transfers.until ?? new Date(),
    waitingFor: transfers.kinds,
    createdAt: new Date(),
  });
  doc.sealedEmail = cfg().box.seal(Buffer.from(address), sealContext(String(doc._id)));
  await doc.save();
  await audit.record({
    action: 'privacy.erasure_requested',
    outcome: 'success',
    actorId: requestedBy.id,
    target: String(doc._id),
    details: { reason, waitsUntil: transfers.until?.toISOString() ?? null },
  });
  return doc.toObject() as ErasureDoc;
}

/** Operators: requests the erasure of one or more addresses; each waits for its own transfers. */
export async function requestErasure(caller: Caller, emails: readonly string[]): Promise<ErasureView[]> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const unique = [...new Set(emails.map((e) => e.trim().toLowerCase()))];
  if (unique.some((e) => e === caller.email.toLowerCase())) throw new Invalid('not_yourself');
  const views: ErasureView[] = [];
  for (const email of unique)
    views.push(view(await createRequest(email, 'admin', { id: caller.userId, label: caller.email })));
  wake();
  return views;
}

/**
 * The person asks for themselves: deleting their account, or revoking consent. The account is
 * suspended at once (no sign-in, sessions end); the data goes when the transfers allow, right now
 * when there are none.
 */
export async function requestOwnErasure(caller: Caller, reason: 'self' | 'revocation'): Promise<ErasureView> {
  const doc = await createRequest(
    caller.email,
    reason,
    { id: caller.userId, label: '' },
    await addressStanding.recordScopeOf(caller.userId, caller.organizationId),
  );
  await identityErasure.suspendForErasure(caller.userId);
  await runDue();
  const fresh = (await ErasureRequest.findById(doc._id).lean()) as ErasureDoc;
  return view(fresh);
}

/**
 * The public revocation form, first step: a code to the address, but only if KIS holds anything for
 * it (no mail to strangers). The answer is the same either way, so nobody learns who is known.
 */
export async function startRevocation(email: string): Promise<void> {
  const address = email.trim().toLowerCase();
  const account = await identityErasure.accountOf(address);
  const billed = await paymentsErasure.personalDataForExport(address);
  const holds =
    account !== undefined ||
    (billed.customerRecords as unknown[]).length > 0 ||
    (billed.invoices as unknown[]).length > 0;
  if (!holds) return;
  const code = await identityErasure.revocationCode(address);
  if (!code) return;
  await mail.send({ to: address, lang: 'de', kind: 'revocation_code', params: { code, minutes: 15 } });
}

/** The public revocation form, second step: the code from the mail makes the request. */
export async function confirmRevocation(email: string, code: string): Promise<void> {
  await identityErasure.checkRevocationCode(email, code);
  await requestRevocation(email);
}

/** A revocation confirmed by a mailed code (no account needed): the request waits like any other. */
export async function requestRevocation(email: string): Promise<void> {
  const account = await identityErasure.accountOf(email);
  await createRequest(email, 'revocation', {
    label: '',
  });
  if (account) await identityErasure.suspendForErasure(account.id);
  wake();
}

/** Operators: the requests, newest first. */
export async function listErasures(
  caller: Caller,
  query: { page: number; pageSize: number },
): Promise<{ items: ErasureView[]; total: number }> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const [docs, total] = await Promise.all([
    ErasureRequest.find({})
      .sort({ createdAt: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    ErasureRequest.countDocuments({}),
  ]);
  return { items: (docs as ErasureDoc[]).map(view), total };
}

/** Erases one person everywhere; returns what was removed, per module. */
async function erase(
  email: string,
  requestId: string,
  scope: paymentsErasure.RecordScope,
): Promise<{ report: Record<string, unknown>; kept: string }> {
  const pseudonym = `${audit.ERASED} ${requestId.slice(-6)}`;
  const account = await identityErasure.accountOf(email);
  const userId = account?.id;
  const payments = await paymentsErasure.erasePerson(email, pseudonym, scope);
  const depotReport = await depots.erasePerson({ userId, email, pseudonym, byAddress: scope === 'everywhere' });
  const documents = await areaDocuments.erasePerson({ userId, email, pseudonym });
  const accountReport = await identityErasure.eraseAccount(email, pseudonym);
  // Entries addressed to the address without an account (the account's hook took care of the rest).
  if (!account) await areaInfo.removePersonalAreas({ id: '', email });
  const mails = await mail.eraseAddress(email);
  const auditReport = await audit.erasePerson({ userId, emails: [email], requestId });
  const kept =
    payments.kept > 0
      ? `${payments.kept} Rechnung(en) mit Name und Anschrift, 10 Jahre (§147 AO, §14b UStG) / ${payments.kept} invoice(s) with name and address, 10 years`
      : '';
  return {
    report: {
      account: accountReport,
      payments,
      depots: depotReport,
      documents,
      mails,
      audit: auditReport,
    },
    kept,
  };
}

/**
 * Completes every due request: checks the transfers again (new ones postpone it), erases, tells
 * the operators by mail and logs what was removed. Runs one at a time.
 */
export async function runDue(now: Date = new Date()): Promise<number> {
  const previous = running ?? Promise.resolve();
  const mine = previous.then(async () => {
    let done = 0;
    const due = (await ErasureRequest.find({ state: 'waiting', notBefore: { $lte: now } })
      .sort({ notBefore: 1 })
      .limit(100)
      .lean()) as ErasureDoc[];
    for (const doc of due) {
      const email = unseal(doc);
      if (!email) continue;
      const transfers = await activeTransfers(email, scopeOf(doc));
      if (transfers.until && transfers.until > new Date()) {
        await ErasureRequest.updateOne(
          { _id: doc._id },
          { $set: { notBefore: transfers.until, waitingFor: transfers.kinds } },
        );
        continue;
      }
      const id = String(doc._id);
      const { report, kept } = await erase(email, id, scopeOf(doc));
      const completedAt = new Date();
      await ErasureRequest.updateOne(
        { _id: doc._id, state: 'waiting' },
        { $set: { state: 'done', completedAt, report, kept, waitingFor: [] } },
      );
      cfg().logger.info({ erasureId: id, reason: doc.reason, removed: report }, 'erasure completed');
      await audit.record({
        action: 'privacy.erasure_completed',
        outcome: 'success',
        actorId: 'system:privacy',
        target: id,
        details: { reason: doc.reason, kept: kept !== '' },
      });
      await identity.mailAdmins(
        'erasure_done',
        {
          when: formatWhen(completedAt, 'de', cfg().timeZone),
          requestedBy: doc.requestedBy,
          reason: doc.reason as ErasureReason,
          kept,
          link: `${cfg().publicUrl}/admin/datenschutz`,
        },
        { source: 'erasure', ref: id },
      );
      done += 1;
    }
    // The sealed address is kept only as long as the notice needs it.
    await ErasureRequest.updateMany(
      { state: 'done', completedAt: { $lt: new Date(now.getTime() - SEALED_DAYS * 86_400_000) } },
      { $unset: { sealedEmail: 1 } },
    );
    return done;
  });
  running = mine.catch(() => undefined);
  return mine;
}

function wake(): void {
  void runDue().catch((err: unknown) => cfg().logger.error({ err }, 'erasure job failed'));
}

/** The operators' notice names the addresses only as it leaves: the outbox keeps `{{emails}}`. */
async function noticeContent(ref: string): Promise<mail.DeferredContent | undefined> {
  const doc = (await ErasureRequest.findById(ref)
    .lean()
    .catch(() => null)) as ErasureDoc | null;
  const email = doc ? unseal(doc) : undefined;
  return email ? { fills: { emails: `    ${email}` } } : undefined;
}

/** Sets the module up and starts the job. */
export async function init(options: ErasureSettings): Promise<void> {
  settings = options;
  await ErasureRequest.createIndexes();
  mail.registerDeferredSource('erasure', noticeContent);
  timer = setInterval(wake, options.checkMs);
  timer.unref();
  wake();
}

export function stop(): void {
  clearInterval(timer);
  timer = undefined;
}
