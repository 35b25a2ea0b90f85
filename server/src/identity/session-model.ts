import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** Why a session ended; shown to the user and in the audit log. */
export const SESSION_END_REASONS = [
  'logout',
  'timeout',
  'absolute',
  'revoked',
  'ip_mismatch',
  'ip_not_allowed',
  'password_changed',
  'rotated',
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

const sessionSchema = new Schema(
  {
    /** SHA-256 of the cookie's session id; the id itself is never stored. */
    idHash: { type: String, required: true, unique: true },
    /** SHA-256 of the per-session CSRF token. */
    csrfHash: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    /** The address of the login, for the IP binding. */
    ip: { type: String, required: true },
    userAgent: { type: String, default: '' },
    createdAt: { type: Date, required: true },
    /** Last activity, written at most every few seconds (see session service). */
    lastSeenAt: { type: Date, required: true },
    absoluteExpiresAt: { type: Date, required: true },
    endedAt: { type: Date },
    endReason: { type: String, enum: SESSION_END_REASONS },
  },
  { collection: 'sessions', versionKey: false },
);
sessionSchema.index({ endedAt: 1, absoluteExpiresAt: 1 });

export type SessionDoc = InferSchemaType<typeof sessionSchema> & { _id: mongoose.Types.ObjectId };
export const Session = mongoose.model('Session', sessionSchema);
