import mongoose, { Schema, type InferSchemaType } from 'mongoose';

const domainSchema = new Schema(
  {
    /** Lower-case domain, e.g. `example.com`. */
    domain: { type: String, required: true },
    /** An admin confirmed that the domain belongs to this company (area 2 is shared by domain). */
    confirmedAt: { type: Date, required: true },
    confirmedBy: { type: String, required: true },
  },
  { _id: false },
);

const organizationSchema = new Schema(
  {
    name: { type: String, required: true },
    /** The main account: the company's administrator in the portal. */
    mainUserId: { type: String, required: true, unique: true },
    domains: { type: [domainSchema], default: [] },
    createdAt: { type: Date, required: true },
  },
  { collection: 'organizations', versionKey: false },
);
organizationSchema.index({ 'domains.domain': 1 });

export type OrganizationDoc = InferSchemaType<typeof organizationSchema> & { _id: mongoose.Types.ObjectId };
export const Organization = mongoose.model('Organization', organizationSchema);
