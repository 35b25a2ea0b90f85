import mongoose, { Schema, type InferSchemaType } from 'mongoose';

const throttleSchema = new Schema(
  {
    /** `login:<email>` or `login-ip:<address>`, and the like for other guarded actions. */
    key: { type: String, required: true, unique: true },
    failures: { type: Number, required: true, default: 0 },
    lockouts: { type: Number, required: true, default: 0 },
    lastFailureAt: { type: Date, required: true },
    lockedUntil: { type: Date },
  },
  { collection: 'throttles', versionKey: false },
);

export type ThrottleDoc = InferSchemaType<typeof throttleSchema>;
export const Throttle = mongoose.model('Throttle', throttleSchema);
