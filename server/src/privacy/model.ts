import mongoose, { Schema, type InferSchemaType } from 'mongoose';

export const ERASURE_REASONS = ['admin', 'revocation', 'self'] as const;
export type ErasureReason = (typeof ERASURE_REASONS)[number];

/**
 * A request to erase one person's data. The address itself is kept only sealed (to name it in the
 * admins' notice) and as a keyed hash (to find requests for it); neither reveals it to a scan of
 * the database. The request waits while the person still has active transfers.
 */
const erasureSchema = new Schema(
  {
    /** HMAC of the lower-case address with a key from the master key. */
    emailHash: { type: String, required: true, index: true },
    /** The address, sealed with the master key; removed some days after the notice went out. */
    sealedEmail: { type: String },
    reason: { type: String, enum: ERASURE_REASONS, required: true },
    /**
     * Set when the person asked from their account: the erasure touches that account and only the
     * records of its own company (this id; absent: none), never other companies' records of the
     * address. Absent for operators' requests and mailed-code revocations, which reach everywhere.
     */
    accountOnly: { type: Boolean },
    scopeOrganizationId: { type: String },
    requestedById: { type: String },
    /** Who asked: an operator's address; empty when the person asked themselves. */
    requestedBy: { type: String, default: '' },
    state: { type: String, enum: ['waiting', 'done'], required: true },
    /** The request completes at the first run of the job after this (active transfers end). */
    notBefore: { type: Date, required: true },
    /** Why it waits, for the admin page: files, invoices, pins. */
    waitingFor: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    completedAt: { type: Date },
    /** What was removed, per kind; and what the law made us keep. */
    report: { type: Schema.Types.Mixed },
    kept: { type: String, default: '' },
  },
  { collection: 'erasure_requests', versionKey: false },
);
erasureSchema.index({ state: 1, notBefore: 1 });
erasureSchema.index({ createdAt: -1 });

export type ErasureDoc = InferSchemaType<typeof erasureSchema> & { _id: mongoose.Types.ObjectId };
export const ErasureRequest = mongoose.model('ErasureRequest', erasureSchema);
