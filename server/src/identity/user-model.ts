import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { searchGrams, withSearchGrams } from './search-grams.js';

export const ROLES = ['admin', 'customer'] as const;
export type Role = (typeof ROLES)[number];
export const USER_STATUSES = ['pending', 'active', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];
export const LANGUAGES = ['de', 'en'] as const;
export const ACCOUNT_TYPES = ['main', 'sub'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];
export type UserLanguage = (typeof LANGUAGES)[number];

const userSchema = new Schema(
  {
    /** As the user typed it, for display and for sending. */
    email: { type: String, required: true },
    /** Lower-cased, for the unique index and case-insensitive lookups. */
    emailLower: { type: String, required: true, unique: true },
    name: { type: String, default: '' },
    phone: { type: String, default: '' },
    language: { type: String, enum: LANGUAGES, required: true, default: 'de' },
    role: { type: String, enum: ROLES, required: true, default: 'customer' },
    status: { type: String, enum: USER_STATUSES, required: true, default: 'pending' },
    /** bcrypt hash over SHA-256 of the password; absent until the user sets one. */
    passwordHash: { type: String },
    passwordChangedAt: { type: Date },
    /** A new address waiting for its code (e-mail change); the login stays the old one until then. */
    pendingEmail: { type: String },
    emailVerifiedAt: { type: Date },
    /** The customer company the user belongs to (none for operators and unassigned registrations). */
    organizationId: { type: String, index: true },
    /** Within the company: the main account (its administrator) or a sub-account. */
    accountType: { type: String, enum: ACCOUNT_TYPES },
    /** What a sub-account may do (see access.ts); a main account may do everything in its company. */
    rights: { type: [String], default: [] },
    /** A sub-account's mail goes to the main account, saying for whom it is (plus-addresses). */
    redirectToMain: { type: Boolean, default: false },
    /** CIDR ranges the user may sign in and work from (IPv4 and IPv6); empty: from anywhere. */
    allowedIpRanges: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    lastLoginAt: { type: Date },
    /** Search keys of `name` and `emailLower` (search-grams.ts), kept by the hooks below. */
    nameGrams: { type: [String], default: undefined },
    emailGrams: { type: [String], default: undefined },
  },
  { collection: 'users', versionKey: false },
);
userSchema.index({ role: 1 });
userSchema.index({ createdAt: -1 });
userSchema.index({ nameGrams: 1 });
userSchema.index({ emailGrams: 1 });

// Every way a name or an address is written brings its search keys along.
userSchema.pre('save', function () {
  if (this.isNew || this.isModified('name')) this.nameGrams = searchGrams(this.name ?? '');
  if (this.isNew || this.isModified('emailLower')) this.emailGrams = searchGrams(this.emailLower);
});
userSchema.pre('insertMany', function (next: () => void, docs: unknown) {
  for (const doc of Array.isArray(docs) ? (docs as Array<Record<string, unknown>>) : [])
    Object.assign(doc, withSearchGrams({ name: doc.name ?? '', emailLower: doc.emailLower }));
  next();
});
userSchema.pre(['updateOne', 'updateMany', 'findOneAndUpdate'], function () {
  const update = this.getUpdate();
  if (!update || Array.isArray(update)) return;
  const keyed: Record<string, unknown> = { ...update };
  for (const operator of ['$set', '$setOnInsert'] as const) {
    const fields = update[operator] as Record<string, unknown> | undefined;
    if (fields) keyed[operator] = withSearchGrams(fields);
  }
  const plain = Object.fromEntries(Object.entries(update).filter(([key]) => !key.startsWith('$')));
  this.setUpdate({ ...keyed, ...withSearchGrams(plain) });
});

export type UserDoc = InferSchemaType<typeof userSchema> & { _id: mongoose.Types.ObjectId };
export const User = mongoose.model('User', userSchema);
