import mongoose, { Schema, type InferSchemaType } from 'mongoose';

const throttleSchema = new Schema(
  {
    /** `login:<email>` or `login-ip:<address>`, and the like for other guarded actions. */
    key: { type: String, required: true, unique: true },
    /** Failures in a row (none older than the reset time), across lockouts. */
    failures: { type: Number, required: true, default: 0 },
    lockouts: { type: Number, required: true, default: 0 },
    /** Attempts that may still be reserved before the window is used up (see throttle.ts). */
    left: { type: Number },
    /** Failures in the current window; the one that reaches the limit starts a lockout. */
    windowFailures: { type: Number, default: 0 },
    lastAttemptAt: { type: Date },
    lastFailureAt: { type: Date },
    lockedUntil: { type: Date },
    /**
     * Set together with `lockedUntil` and taken away with it: the admin's user list finds the
     * lockouts by this equality, from its index, in one look-up (FerretDB answers a range on
     * `lockedUntil`, and an `$in` over keys, only by reading every record).
     */
    locked: { type: Boolean },
  },
  { collection: 'throttles', versionKey: false },
);
throttleSchema.index({ locked: 1 });

export type ThrottleDoc = InferSchemaType<typeof throttleSchema>;
export const Throttle = mongoose.model('Throttle', throttleSchema);
