import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** What a one-time code or link proves. */
export const VERIFICATION_PURPOSES = [
  'register',
  'reset',
  'admin_setup',
  'invite',
  'email_change',
  'revocation',
] as const;
export type VerificationPurpose = (typeof VERIFICATION_PURPOSES)[number];

const verificationSchema = new Schema(
  {
    purpose: { type: String, enum: VERIFICATION_PURPOSES, required: true },
    /** Lower-cased address the code went to; empty for an admin set-up link without one. */
    emailLower: { type: String, default: '' },
    /** HMAC of the six-digit code (absent for link-only verifications). */
    codeHash: { type: String },
    /** SHA-256 of the link token. */
    linkHash: { type: String, required: true, unique: true },
    expiresAt: { type: Date, required: true },
    /** Wrong codes typed so far; at the limit the verification is dead. */
    attempts: { type: Number, required: true, default: 0 },
    /** Set when the code or link was used: single use. */
    verifiedAt: { type: Date },
    /** SHA-256 of the short-lived token that lets the verified person set a password. */
    setupHash: { type: String, index: { unique: true, sparse: true } },
    setupExpiresAt: { type: Date },
    consumedAt: { type: Date },
    /**
     * The code or link was mailed to the address itself, never redirected to a main account: using
     * it proves the address. Absent on invitations written before they always went there.
     */
    direct: { type: Boolean },
    createdAt: { type: Date, required: true },
  },
  { collection: 'verifications', versionKey: false },
);
verificationSchema.index({ purpose: 1, emailLower: 1, createdAt: -1 });
verificationSchema.index({ expiresAt: 1 });

export type VerificationDoc = InferSchemaType<typeof verificationSchema> & { _id: mongoose.Types.ObjectId };
export const Verification = mongoose.model('Verification', verificationSchema);
