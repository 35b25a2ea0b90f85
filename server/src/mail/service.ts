import mongoose from 'mongoose';
import nodemailer, { type Transporter } from 'nodemailer';
import type { SecretBox } from '../crypto/secret-box.js';
import { Forbidden } from '../errors.js';
import type { Logger } from '../logger.js';
import { runOnce } from '../db/migrations.js';
import { OutboxMail } from './model.js';
import { SECRET_PARAMS, forwardedNote, render, type Language, type MailKind, type MailParams } from './templates.js';
import { containsText, sameText } from '../db/query.js';

export type { Language, MailKind, MailParams };
export { outboxFigures, type OutboxFigures } from './figures.js';

/** How the delivery job runs; main.ts fills it from the configuration. */
export interface MailOptions {
  /** smtp:// or smtps:// URL; without it mails stay queued for admins to read. */
  smtpUrl: string | undefined;
  from: string;
  logger: Logger;
  /** Seals the one-time secrets of queued mails (codes, links) under the master key. */
  box: SecretBox;
  /** How often the job looks for due mails even when nothing woke it. */
  pollMs?: number;
}

/** One mail as the admin outbox page shows it. */
export interface OutboxView {
  id: string;
  to: string;
  subject: string;
  text: string;
  kind: string;
  status: 'queued' | 'sent' | 'dropped';
  attempts: number;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

/** What a deferred-content source gives a mail at delivery. */
export interface DeferredContent {
  /** Placeholders `{{name}}` in the text, filled only in the mail that leaves. */
  fills?: Record<string, string>;
  attachments?: Array<{ filename: string; content: Buffer; contentType: string }>;
}
/** Makes a mail's deferred content from its reference; undefined when the thing is gone. */
export type DeferredSource = (ref: string) => Promise<DeferredContent | undefined>;
const sources = new Map<string, DeferredSource>();

/**
 * Registers where deferred content of a kind comes from (the payments module: invoice PDFs and
 * PINs). Registered once per process, before mails of that kind are delivered.
 */
export function registerDeferredSource(source: string, make: DeferredSource): void {
  sources.set(source, make);
}

/** Longest pause between two attempts at one mail. */
const MAX_BACKOFF_MS = 60 * 60_000;
/** How long one delivery attempt may hold a mail. */
const CLAIM_MS = 60_000;

let job: DeliveryJob | undefined;
let box: SecretBox | undefined;

/** What operators and exports see in place of a one-time secret. */
export const MASKED = '••••••';
/** `{{secret:name}}` stands for a sealed secret param, `{{name}}` for deferred content. */
const PLACEHOLDER = /\{\{(secret:)?([A-Za-z0-9_]+)\}\}/g;

/** The sealed secrets of a mail are bound to it: copied to another mail, they do not open. */
function secretsContext(mailId: string): string {
  return `outbox:${mailId}:secrets`;
}

/**
 * A stored subject or text as people may read it: whatever is filled in only at delivery (one-time
 * secrets, a PIN, erased addresses) is masked.
 */
function masked(text: string): string {
  return text.replace(PLACEHOLDER, MASKED);
}

/**
 * Fills the placeholders of a stored subject or text in one pass, so a filled-in value is never
 * read again as a placeholder. Unknown placeholders stay as they are.
 */
function fill(text: string, secrets: Record<string, string>, deferred: Record<string, string>): string {
  return text.replace(
    PLACEHOLDER,
    (whole, secret: string | undefined, name: string) => (secret ? secrets[name] : deferred[name]) ?? whole,
  );
}

/**
 * Queues a mail in the outbox; the delivery job sends it and retries until the SMTP server takes
 * it. The outbox is written first, so no mail is lost while SMTP is down or the process stops.
 * The kind's one-time secrets ({@link SECRET_PARAMS}) are stored sealed, the text holds
 * placeholders for them, and they are filled in only in the mail that leaves: whoever reads the
 * outbox (operators, a copy of the database) cannot use them.
 *
 * @example
 * await mail.send({ to: user.email, lang: user.language, kind: 'password_changed', params: { when, ip } });
 */
export async function send<K extends MailKind>(mail: {
  to: string;
  lang: Language;
  kind: K;
  params: MailParams[K];
  /** Set when a sub-account's mail is redirected to its main account: the address it was for. */
  onBehalfOf?: string | undefined;
  /** Content made at delivery by a registered source (see {@link registerDeferredSource}). */
  deferred?: { source: string; ref: string } | undefined;
}): Promise<void> {
  // Placeholder addresses (legacy accounts before their migration) end in .invalid: never sent.
  if (/\.invalid$/i.test(mail.to)) return;
  const _id = new mongoose.Types.ObjectId();
  const params: Record<string, unknown> = { ...mail.params };
  const secrets: Record<string, string> = {};
  for (const name of SECRET_PARAMS[mail.kind] ?? []) {
    secrets[name] = String(params[name]);
    params[name] = `{{secret:${name}}}`;
  }
  let sealed: string | undefined;
  if (Object.keys(secrets).length > 0) {
    if (!box) throw new Error('mail not started');
    sealed = box.seal(Buffer.from(JSON.stringify(secrets)), secretsContext(String(_id)));
  }
  const rendered = render(mail.kind, mail.lang, params as MailParams[K]);
  const subject = mail.onBehalfOf ? `[${mail.onBehalfOf}] ${rendered.subject}` : rendered.subject;
  const text = mail.onBehalfOf ? forwardedNote(mail.lang, mail.onBehalfOf) + rendered.text : rendered.text;
  const now = new Date();
  await OutboxMail.create({
    _id,
    to: mail.to,
    subject,
    text,
    kind: mail.kind,
    lang: mail.lang,
    ...(mail.deferred ? { deferred: mail.deferred } : {}),
    ...(sealed ? { secrets: sealed } : {}),
    nextAttemptAt: now,
    createdAt: now,
  });
  job?.wake();
}

/** One page of the outbox, newest first, for administrators only; one-time secrets are masked. */
export async function listOutbox(
  caller: { role: string },
  query: { page: number; pageSize: number; status?: 'queued' | 'sent' | 'dropped' | undefined },
): Promise<{
  items: OutboxView[];
  total: number;
}> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const filter = query.status ? { status: query.status } : {};
  const [docs, total] = await Promise.all([
    OutboxMail.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((query.page - 1) * query.pageSize)
      .limit(query.pageSize)
      .lean(),
    OutboxMail.countDocuments(filter),
  ]);
  return {
    total,
    items: docs.map((d) => ({
      id: String(d._id),
      to: d.to,
      subject: masked(d.subject),
      text: masked(d.text),
      kind: d.kind,
      status: d.status as OutboxView['status'],
      attempts: d.attempts,
      lastError: d.lastError ?? null,
      createdAt: d.createdAt.toISOString(),
      sentAt: d.sentAt?.toISOString() ?? null,
    })),
  };
}

/** The mails to an address, for the person's data export (secrets and deferred content stay out). */
export async function mailsToForExport(email: string): Promise<unknown[]> {
  const docs = await OutboxMail.find({ to: sameText(email) })
    .sort({ createdAt: -1 })
    .limit(10_000)
    .lean();
  return docs.map((d) => ({
    subject: masked(d.subject),
    text: masked(d.text),
    status: d.status,
    createdAt: d.createdAt,
    sentAt: d.sentAt ?? null,
  }));
}

/**
 * Deletes every mail to an address, and every mail whose text names it (an admin's notice of a
 * registration, say): queued ones are then never sent.
 */
export async function eraseAddress(email: string): Promise<number> {
  const within = containsText(email);
  const result = await OutboxMail.deleteMany({ $or: [{ to: sameText(email) }, { text: within }, { subject: within }] });
  return result.deletedCount;
}

/** True when mails actually leave the server. */
export function isConfigured(): boolean {
  return job?.configured ?? false;
}

/** Mails of these kinds written before secrets were sealed hold codes in their text. */
const CODE_KINDS = ['register_code', 'reset_code', 'email_change_code', 'revocation_code'];

/**
 * Mails that left before one-time secrets were sealed still hold them in plain text: their links'
 * tokens (`#token=…`, payment pages `/bezahlen/…`) and, in code mails, the six digits. Masks them
 * in every mail already sent or dropped; a mail still queued keeps its text, as it must go out.
 */
async function scrubOldSecrets(): Promise<void> {
  const scrub = (text: string, codes: boolean): string => {
    const links = text
      .replace(/#token=[A-Za-z0-9_%-]+/g, `#token=${MASKED}`)
      .replace(/\/bezahlen\/[A-Za-z0-9_%-]+/g, `/bezahlen/${MASKED}`);
    return codes ? links.replace(/\b\d{6}\b/g, MASKED) : links;
  };
  const cursor = OutboxMail.find({ status: { $in: ['sent', 'dropped'] } }, { kind: 1, subject: 1, text: 1 })
    .lean()
    .cursor();
  for await (const doc of cursor) {
    const codes = CODE_KINDS.includes(doc.kind);
    const subject = scrub(doc.subject, codes);
    const text = scrub(doc.text, codes);
    if (subject !== doc.subject || text !== doc.text)
      await OutboxMail.updateOne({ _id: doc._id }, { $set: { subject, text } });
  }
}

/** Starts the delivery job (once per process). */
export async function start(options: MailOptions): Promise<void> {
  await OutboxMail.createIndexes();
  await runOnce('2026-12-outbox-old-secrets-masked', scrubOldSecrets);
  box = options.box;
  job = new DeliveryJob(options);
  await job.start();
}

/** Stops the delivery job after the mail in flight. */
export async function stop(): Promise<void> {
  await job?.stop();
  job = undefined;
  box = undefined;
}

class DeliveryJob {
  readonly configured: boolean;
  private readonly transport: Transporter | undefined;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: MailOptions) {
    this.configured = options.smtpUrl !== undefined;
    this.log = options.logger.child({ component: 'mail' });
    this.transport = options.smtpUrl
      ? nodemailer.createTransport({ url: options.smtpUrl, connectionTimeout: 10_000, socketTimeout: 20_000 })
      : undefined;
  }

  async start(): Promise<void> {
    if (!this.configured) {
      const waiting = await OutboxMail.countDocuments({ status: 'queued' });
      this.log.warn(
        { waiting },
        'SMTP_URL is not set: mails wait in the outbox; admins read them on the outbox page of the portal',
      );
      return;
    }
    this.timer = setInterval(() => this.wake(), this.options.pollMs ?? 5000);
    this.timer.unref();
    this.wake();
  }

  wake(): void {
    if (!this.transport || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    this.transport?.close();
  }

  /** Sends due mails one by one until none is due. */
  private async drain(): Promise<void> {
    while (!this.stopped && this.transport) {
      const now = new Date();
      const mail = await OutboxMail.findOneAndUpdate(
        {
          status: 'queued',
          nextAttemptAt: { $lte: now },
          $or: [{ claimedUntil: { $exists: false } }, { claimedUntil: null }, { claimedUntil: { $lte: now } }],
        },
        { $set: { claimedUntil: new Date(now.getTime() + CLAIM_MS) }, $inc: { attempts: 1 } },
        { sort: { nextAttemptAt: 1 }, new: true },
      ).lean();
      if (!mail) return;
      try {
        const secrets = this.openSecrets(mail);
        if (!secrets) {
          await this.drop(mail, 'secrets unreadable');
          this.log.error({ mailId: String(mail._id), kind: mail.kind }, 'mail dropped: its secrets do not open');
          continue;
        }
        let fills: Record<string, string> = {};
        let attachments: DeferredContent['attachments'] = [];
        if (mail.deferred?.source) {
          const make = sources.get(mail.deferred.source);
          if (!make) throw new Error(`no source for deferred content ${mail.deferred.source}`);
          const content = await make(mail.deferred.ref ?? '');
          if (!content) {
            await this.drop(mail, 'content gone');
            this.log.info({ mailId: String(mail._id), kind: mail.kind }, 'mail dropped: its content is gone');
            continue;
          }
          fills = content.fills ?? {};
          attachments = content.attachments ?? [];
        }
        await this.transport.sendMail({
          from: this.options.from,
          to: mail.to,
          subject: fill(mail.subject, secrets, fills),
          text: fill(mail.text, secrets, fills),
          attachments,
        });
        // Sent: the sealed secrets have done their work and leave the database.
        await OutboxMail.updateOne(
          { _id: mail._id },
          { $set: { status: 'sent', sentAt: new Date() }, $unset: { claimedUntil: 1, lastError: 1, secrets: 1 } },
        );
        this.log.info({ mailId: String(mail._id), kind: mail.kind, attempts: mail.attempts }, 'mail sent');
      } catch (err) {
        const delay = Math.min(MAX_BACKOFF_MS, 5000 * 2 ** Math.min(mail.attempts - 1, 12));
        await OutboxMail.updateOne(
          { _id: mail._id },
          {
            $set: { nextAttemptAt: new Date(Date.now() + delay), lastError: (err as Error).message.slice(0, 500) },
            $unset: { claimedUntil: 1 },
          },
        );
        this.log.warn(
          { mailId: String(mail._id), attempts: mail.attempts, retryInMs: delay, err: (err as Error).message },
          'mail delivery failed; will retry',
        );
        // The server is likely down: leave the rest for the next round instead of failing each now.
        return;
      }
    }
  }

  /** A mail's one-time secrets, unsealed; undefined when they do not open (another master key). */
  private openSecrets(mail: { _id: unknown; secrets?: string | null }): Record<string, string> | undefined {
    if (!mail.secrets) return {};
    try {
      return JSON.parse(
        this.options.box.open(mail.secrets, secretsContext(String(mail._id))).toString('utf8'),
      ) as Record<string, string>;
    } catch {
      return undefined;
    }
  }

  /** Gives a mail up for good; its secrets go with it. */
  private async drop(mail: { _id: unknown }, reason: string): Promise<void> {
    await OutboxMail.updateOne(
      { _id: mail._id },
      { $set: { status: 'dropped', lastError: reason }, $unset: { claimedUntil: 1, secrets: 1 } },
    );
  }
}
