import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** `dropped`: its deferred content was gone at delivery (an erased invoice), so it was not sent. */
export const MAIL_STATUSES = ['queued', 'sent', 'dropped'] as const;
export type MailStatus = (typeof MAIL_STATUSES)[number];

const outboxSchema = new Schema(
  {
    to: { type: String, required: true },
    subject: { type: String, required: true },
    text: { type: String, required: true },
    /** Template name, for the admin outbox page and tests. */
    kind: { type: String, required: true },
    lang: { type: String, required: true },
    /**
     * Content made at delivery, not stored here: an attachment (an invoice PDF) or a secret (a PIN)
     * that replaces its `{{name}}` placeholder in the text. The outbox never holds either.
     */
    deferred: { type: new Schema({ source: String, ref: String }, { _id: false }) },
    /**
     * The one-time secrets of the mail (codes, links), sealed under the master key and bound to this
     * mail; the text holds `{{secret:name}}` placeholders for them. Removed once the mail is sent.
     */
    secrets: { type: String },
    status: { type: String, enum: MAIL_STATUSES, required: true, default: 'queued' },
    attempts: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    /** A delivery in progress holds the mail until this time, so two workers never send it twice. */
    claimedUntil: { type: Date },
    lastError: { type: String },
    createdAt: { type: Date, required: true },
    sentAt: { type: Date },
  },
  { collection: 'outbox', versionKey: false },
);
outboxSchema.index({ status: 1, nextAttemptAt: 1 });
outboxSchema.index({ createdAt: -1 });

export type OutboxDoc = InferSchemaType<typeof outboxSchema>;
export const OutboxMail = mongoose.model('OutboxMail', outboxSchema);
