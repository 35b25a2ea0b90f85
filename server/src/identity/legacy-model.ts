import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/**
 * Accounts taken over from older products, which logged in with a user name. Each has a KIS
 * account (with a placeholder address under `.invalid` until it is migrated) and this record: the
 * user name (the `_id`, lower-case, so each exists once), the old password hash, and where the
 * account stands in its migration to an e-mail login.
 */
const legacyLoginSchema = new Schema(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    companyKey: { type: String, required: true, index: true },
    isMain: { type: Boolean, required: true },
    /** `bcrypt` (the hash itself) or `sha256` (hex of SHA-256 over salt + password). */
    algo: { type: String, enum: ['bcrypt', 'sha256'], required: true },
    hash: { type: String, required: true },
    salt: { type: String, default: '' },
    products: { type: [String], default: [] },
    /** SHA-256 of the imported record: the same line imported again changes nothing. */
    sourceHash: { type: String, required: true },
    /**
     * legacy: logs in by user name; invited: the main account chose its address, a link to set the
     * password was mailed; migrated: the first e-mail login happened, the user name no longer works.
     */
    state: { type: String, enum: ['legacy', 'invited', 'migrated'], required: true, default: 'legacy' },
    /**
     * The address the main account chose when it already belonged to an account elsewhere in KIS:
     * the wizard shows it like any other (so it tells nobody which addresses have accounts), the
     * account keeps its user name and placeholder address, and the address was told instead of
     * invited. Operators settle it (the account shows as stuck).
     */
    chosenEmail: { type: String },
    /** The first legacy login that showed the notice of its wave. */
    noticeSeenAt: { type: Date },
    invitedAt: { type: Date },
    migratedAt: { type: Date },
    lastLegacyLoginAt: { type: Date },
    importedAt: { type: Date, required: true },
  },
  { collection: 'legacy_logins', versionKey: false, _id: false },
);
export type LegacyLoginDoc = InferSchemaType<typeof legacyLoginSchema>;
export const LegacyLogin = mongoose.model('LegacyLogin', legacyLoginSchema);

/** A company from the old products, with the KIS organization it became and its migration wave. */
const legacyCompanySchema = new Schema(
  {
    /** The company's name, trimmed and lower-case: how import lines name it. */
    _id: { type: String, required: true },
    name: { type: String, required: true },
    organizationId: { type: String, required: true },
    waveId: { type: String, index: true },
    importedAt: { type: Date, required: true },
  },
  { collection: 'legacy_companies', versionKey: false, _id: false },
);
export type LegacyCompanyDoc = InferSchemaType<typeof legacyCompanySchema>;
export const LegacyCompany = mongoose.model('LegacyCompany', legacyCompanySchema);

/** A migration wave: companies that are asked to switch to e-mail logins from `startedAt` on. */
const waveSchema = new Schema(
  {
    name: { type: String, required: true },
    startedAt: { type: Date },
    createdAt: { type: Date, required: true },
    createdBy: { type: String },
  },
  { collection: 'migration_waves', versionKey: false },
);
export type WaveDoc = InferSchemaType<typeof waveSchema> & { _id: mongoose.Types.ObjectId };
export const MigrationWave = mongoose.model('MigrationWave', waveSchema);
