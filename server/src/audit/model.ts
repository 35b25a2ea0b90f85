import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** The outcomes an audited action can have. */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

const auditEntrySchema = new Schema(
  {
    /** Position in the chain, from 1, without gaps; unique so two writers cannot both append. */
    seq: { type: Number, required: true, unique: true },
    /**
     * The page block of `seq` ({@link blockOf}): the audit page reads its entries by a few equality
     * look-ups of this instead of one per entry. Not hashed (it follows from `seq`); entries from
     * before it existed lack it and are read by `seq`.
     */
    block: { type: Number },
    at: { type: Date, required: true },
    actorId: { type: String },
    /** The actor's e-mail at the time, so the log stays readable after changes. */
    actorEmail: { type: String },
    ip: { type: String },
    action: { type: String, required: true, index: true },
    target: { type: String },
    outcome: { type: String, enum: AUDIT_OUTCOMES, required: true },
    details: { type: Schema.Types.Mixed },
    /**
     * 2 for entries whose personal fields (actorEmail, ip, target) sit outside the chained hash,
     * committed to by `personalHash` with a random `salt`. Erasing a person removes the fields and
     * the salt; the chain still verifies. Entries without `v` hash everything (written before).
     */
    v: { type: Number },
    salt: { type: String },
    personalHash: { type: String },
    /** Set when the entry's personal fields were erased (the request's id). */
    erasedBy: { type: String },
    /** Hash of the previous entry (empty for the first). */
    prevHash: { type: String, default: '' },
    /** SHA-256 over prevHash and this entry's canonical content. */
    hash: { type: String, required: true },
  },
  { collection: 'audit', versionKey: false, minimize: false },
);
auditEntrySchema.index({ actorId: 1, seq: -1 });
auditEntrySchema.index({ block: 1 });
auditEntrySchema.index({ at: -1 });

/** Entries per page block: a page (at most 100 entries) spans one or two blocks. */
export const AUDIT_BLOCK = 100;

/** The page block an entry of sequence number `seq` (from 1) belongs to. */
export function blockOf(seq: number): number {
  return Math.floor((seq - 1) / AUDIT_BLOCK);
}

export type AuditEntryDoc = InferSchemaType<typeof auditEntrySchema>;
export const AuditEntry = mongoose.model('AuditEntry', auditEntrySchema);
