import mongoose, { Schema, type InferSchemaType } from 'mongoose';
import { addKeys, rekeyUsers, type SearchableUser } from './user-search-keys.js';

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
    /** When the person registered themselves (not invited, imported or set up): the operator's "new registrations". */
    registeredAt: { type: Date },
    /**
     * Its UTC day (YYYY-MM-DD), which the overview counts by equality, a day at a time: FerretDB
     * answers a range only by reading every user (1.3 s at 10,000 users, scripts/bench/volume.ts).
     */
    registeredDay: { type: String },
    lastLoginAt: { type: Date },
  },
  { collection: 'users', versionKey: false },
);
userSchema.index({ role: 1 });
userSchema.index({ createdAt: -1 });
userSchema.index({ registeredDay: 1 });

// Every way a user is created, renamed, readdressed or deleted brings the search keys along
// (user-search-keys.ts): a write that touches what the keys hold finds its users before it and
// rekeys them after it.
const KEYED_FIELDS = ['name', 'emailLower', 'createdAt'];
const KEYED_PROJECTION = { name: 1, emailLower: 1, createdAt: 1 };

userSchema.pre('save', function () {
  this.$locals.rekey = this.isNew || KEYED_FIELDS.some((field) => this.isModified(field));
});
userSchema.post('save', async function () {
  if (this.$locals.rekey) await rekeyUsers([{ id: String(this._id), user: this }]);
});
userSchema.post('insertMany', async function (docs: SearchableUser[]) {
  await addKeys(docs);
});

/** Whether an update (operators or a plain replacement of fields) writes a field the keys hold. */
function touchesKeys(update: unknown): boolean {
  if (!update || typeof update !== 'object' || Array.isArray(update)) return true;
  return Object.entries(update as Record<string, unknown>).some(([key, value]) =>
    key.startsWith('$')
      ? typeof value === 'object' && value !== null && Object.keys(value).some((f) => KEYED_FIELDS.includes(f))
      : KEYED_FIELDS.includes(key),
  );
}

interface KeyedQuery {
  rekeyIds?: string[];
}

async function idsOf(model: mongoose.Model<unknown>, filter: Record<string, unknown>): Promise<string[]> {
  return (await model.find(filter, { _id: 1 }).lean<Array<{ _id: unknown }>>()).map((doc) => String(doc._id));
}

async function rekeyByIds(model: mongoose.Model<unknown>, ids: readonly string[]): Promise<void> {
  const users = await Promise.all(
    ids.map(async (id) => ({ id, user: await model.findById(id, KEYED_PROJECTION).lean<SearchableUser>() })),
  );
  await rekeyUsers(users);
}

userSchema.pre(['updateOne', 'updateMany', 'findOneAndUpdate'], async function () {
  if (touchesKeys(this.getUpdate())) (this as KeyedQuery).rekeyIds = await idsOf(this.model, this.getFilter());
});
userSchema.post(['updateOne', 'updateMany', 'findOneAndUpdate'], async function () {
  const before = (this as KeyedQuery).rekeyIds;
  if (!before) return;
  // An upsert may have created the user it did not find before.
  const ids = this.getOptions().upsert
    ? [...new Set([...before, ...(await idsOf(this.model, this.getFilter()))])]
    : before;
  await rekeyByIds(this.model, ids);
});
userSchema.pre(['deleteOne', 'deleteMany', 'findOneAndDelete'], { document: false, query: true }, async function () {
  (this as KeyedQuery).rekeyIds = await idsOf(this.model, this.getFilter());
});
userSchema.post(['deleteOne', 'deleteMany', 'findOneAndDelete'], { document: false, query: true }, async function () {
  await rekeyUsers(((this as KeyedQuery).rekeyIds ?? []).map((id) => ({ id, user: null })));
});
userSchema.post('deleteOne', { document: true, query: false }, async function () {
  await rekeyUsers([{ id: String(this._id), user: null }]);
});

export type UserDoc = InferSchemaType<typeof userSchema> & { _id: mongoose.Types.ObjectId };
export const User = mongoose.model('User', userSchema);
