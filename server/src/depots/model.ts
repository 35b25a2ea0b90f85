import mongoose, { Schema, type InferSchemaType } from 'mongoose';

const depotKeySchema = new Schema(
  {
    keyId: { type: Number, required: true },
    /** The 32-byte key, sealed with the master key (crypto/secret-box.ts); never stored in the clear. */
    sealed: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { _id: false },
);

const depotSchema = new Schema(
  {
    /** 16 hex digits, lower case: the u64 id in every telegram header. */
    depotId: { type: String, required: true, unique: true },
    name: { type: String, required: true },
    location: { type: String, default: '' },
    /** The company that owns the depot; none for the operator's own depots. */
    organizationId: { type: String, index: true },
    compartments: { type: Number, required: true },
    heartbeatSeconds: { type: Number, required: true },
    keys: { type: [depotKeySchema], default: [] },
    /** The key the depot seals with; an older one stays valid until the depot uses the new one. */
    currentKeyId: { type: Number, required: true },
    status: { type: String, enum: ['active', 'disabled'], required: true, default: 'active' },
    createdAt: { type: Date, required: true },
  },
  { collection: 'depots', versionKey: false },
);

export type DepotDoc = InferSchemaType<typeof depotSchema> & { _id: mongoose.Types.ObjectId };
export const Depot = mongoose.model('Depot', depotSchema);
