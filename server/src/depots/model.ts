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
    /**
     * The depot id again: FerretDB's SQLite backend pushes only `_id` look-ups down to an index, so
     * everything that finds one depot asks by `_id` (a look-up by another field scans the collection).
     */
    _id: { type: String, required: true },
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
    /**
     * Anti-replay state of the depot → server direction: highest epoch, highest seq in it, the
     * 64-bit window as 16 hex digits, and the reservation ahead of it (replay-reservation.ts), as of
     * the depot's detachment; while it is loaded, the state log holds the newer one.
     */
    replay: {
      type: new Schema({ epoch: Number, highest: Number, bitmap: String, reserved: Number }, { _id: false }),
      default: () => ({ epoch: 0, highest: 0, bitmap: '0' }),
    },
    /** The server's send epoch towards this depot; raised before every process uses it. */
    sendEpoch: { type: Number, required: true, default: 0 },
    /** The next command number (unique per depot). */
    nextCmd: { type: Number, required: true, default: 1 },
    /** The highest event number whose effect on the current state was applied. */
    lastEv: { type: Number, required: true, default: 0 },
    /**
     * The current state (see depots/live-state.ts `LiveState`) as of `stateRev`. While the depot is
     * loaded its state lives in the state log below; it is written here when the depot is detached.
     */
    live: { type: Schema.Types.Mixed },
    stateRev: { type: Number, required: true, default: 0 },
    /**
     * The time of the depot's first history entry or earlier (its creation): history reads walk
     * back month by month to here (depots/history-months.ts). Unset on depots of before the
     * months; their creation time serves.
     */
    historyFrom: { type: Date },
  },
  { collection: 'depots', versionKey: false, minimize: false, _id: false },
);

export type DepotDoc = InferSchemaType<typeof depotSchema>;
// The depot list and the operator's overview ask for the disabled ones by this equality.
depotSchema.index({ status: 1 });

export const Depot = mongoose.model('Depot', depotSchema);

/**
 * The history of a depot: what it reported (EVENT telegrams), what changed in its state, what the
 * server and users did. The `_id` of a depot event is `<depotId>:ev:<n>`, so each (depot, ev) is
 * stored once however often the depot repeats it, on any database engine.
 */
const historySchema = new Schema(
  {
    _id: { type: String, required: true },
    depotId: { type: String, required: true },
    /** `<depotId>/<YYYY-MM>` of `at`: what every history read asks for (depots/history-months.ts). */
    depotMonth: { type: String, required: true },
    /** Server time of the entry (receive time for telegrams). */
    at: { type: Date, required: true },
    /** The depot's own clock, when it gave one; advisory. */
    depotTime: { type: Date },
    source: { type: String, enum: ['depot', 'state', 'server', 'user'], required: true },
    kind: { type: String, required: true },
    ev: { type: Number },
    comp: { type: Number },
    pinId: { type: String },
    info: { type: String },
    /** Who did it, for user entries and commands. */
    userId: { type: String },
    userName: { type: String },
  },
  { collection: 'depot_history', versionKey: false, _id: false },
);
historySchema.index({ depotId: 1, at: -1 });
historySchema.index({ depotMonth: 1, at: -1 });
// The payment reconciliation looks up the first use of a paid PIN.
historySchema.index({ pinId: 1 });
export type HistoryDoc = InferSchemaType<typeof historySchema>;
export const DepotHistory = mongoose.model('DepotHistory', historySchema);

/**
 * New history entries, a write batch's as one page: durable before the depots' ACKs, moved into
 * `depot_history` behind them (depots/history-journal.ts says why). Pages of a previous run are
 * moved on at start.
 */
const historyJournalSchema = new Schema(
  {
    /** The entries as JSON, encoded by depots/history-journal.ts. */
    p: { type: Buffer, required: true },
    /** How many entries the page holds. */
    n: { type: Number, required: true },
  },
  { collection: 'depot_history_journal', versionKey: false },
);
export const DepotHistoryJournal = mongoose.model('DepotHistoryJournal', historyJournalSchema);

/** A command to a depot and its delivery: queued → sent → succeeded | failed | expired. */
const commandSchema = new Schema(
  {
    /** `<depotId>:<cmd>`: one command of one depot, found by `_id` (see the depot's `_id`). */
    _id: { type: String, required: true },
    depotId: { type: String, required: true },
    cmd: { type: Number, required: true },
    op: { type: String, required: true },
    /** The op's arguments as JSON, sealed (set_pin carries a PIN, rekey a key). */
    sealedArgs: { type: String, required: true },
    /** What people may see of it: compartment, pin id. */
    comp: { type: Number },
    pinId: { type: String },
    state: { type: String, enum: ['queued', 'sent', 'succeeded', 'failed', 'expired'], required: true },
    attempts: { type: Number, required: true, default: 0 },
    error: { type: String },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    sentAt: { type: Date },
    settledAt: { type: Date },
    userId: { type: String },
    userName: { type: String },
  },
  { collection: 'depot_commands', versionKey: false, _id: false },
);
commandSchema.index({ depotId: 1, cmd: 1 }, { unique: true });
commandSchema.index({ state: 1 });
export type CommandDoc = InferSchemaType<typeof commandSchema>;

/** The `_id` of a depot's command. */
export function commandId(depotId: string, cmd: number): string {
  return `${depotId}:${cmd}`;
}
export const DepotCommand = mongoose.model('DepotCommand', commandSchema);

/** A PIN for one compartment: the digits sealed at rest, its window, uses and return time. */
const pinSchema = new Schema(
  {
    _id: { type: String, required: true },
    depotId: { type: String, required: true, index: true },
    comp: { type: Number, required: true },
    sealedPin: { type: String, required: true },
    /** For whom: shown in the history beside every use. */
    label: { type: String, required: true },
    holderUserId: { type: String },
    validFrom: { type: Date },
    validUntil: { type: Date },
    uses: { type: Number },
    usesSeen: { type: Number, required: true, default: 0 },
    /** The key taken with this PIN must be back by then, or the depot raises an overdue alarm. */
    returnBy: { type: Date },
    state: { type: String, enum: ['pending', 'active', 'revoking', 'revoked', 'failed'], required: true },
    createdAt: { type: Date, required: true },
    createdBy: { type: String },
    revokedAt: { type: Date },
  },
  { collection: 'depot_pins', versionKey: false, _id: false },
);
export type PinDoc = InferSchemaType<typeof pinSchema>;
export const DepotPin = mongoose.model('DepotPin', pinSchema);

/** A user's access to a depot, with a role: viewer < operator < manager. */
const grantSchema = new Schema(
  {
    depotId: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    role: { type: String, enum: ['viewer', 'operator', 'manager'], required: true },
    grantedBy: { type: String },
    createdAt: { type: Date, required: true },
  },
  { collection: 'depot_grants', versionKey: false },
);
grantSchema.index({ depotId: 1, userId: 1 }, { unique: true });
export type GrantDoc = InferSchemaType<typeof grantSchema> & { _id: mongoose.Types.ObjectId };
export const DepotGrant = mongoose.model('DepotGrant', grantSchema);

/**
 * The depots' changing state (current state, replay window, last applied event, send epoch) as an
 * append-only log: one page per write batch, holding the state of each depot in the batch; the
 * newest per depot wins. Appending is what every database does fastest, and on the embedded default
 * it is the only way the writer keeps up: `npm run bench -- --only states` measured, with 10,000
 * depots on FerretDB 1.24 and KIS's PostgreSQL, 463 states/s written as one `updateOne` by `_id`
 * each (2.2 s for a batch of 1,000 depots) against 4,958/s appended as one entry each (0.2 s).
 * FerretDB's cost grows with the number of fields it converts, not with the bytes, so a page keeps
 * its states as one binary value (depots/state-log.ts): 1,000 states in 13 ms. Two generations: a
 * compaction writes the newest state of every depot into the other collection and drops the old
 * one (8 ms, where `deleteMany` of 20,000 entries took 3.6 s). On MongoDB an update by `_id` would
 * do, but one layout serves both.
 *
 * Logs written before pages held one document per state (`d`, `rev`, `live`, …); they are read as
 * they are, and the first rotation rewrites them as pages.
 */
const statePageSchema = new Schema(
  {
    /** The states, encoded by depots/state-log.ts. */
    p: { type: Buffer, required: true },
    /** How many states the page holds. */
    n: { type: Number, required: true },
  },
  { versionKey: false },
);
export type StatePageDoc = InferSchemaType<typeof statePageSchema> & { _id: mongoose.Types.ObjectId };
export const STATE_GENERATIONS = ['a', 'b'] as const;
export type StateGeneration = (typeof STATE_GENERATIONS)[number];
export const DepotStates: Readonly<Record<StateGeneration, mongoose.Model<StatePageDoc>>> = {
  a: mongoose.model<StatePageDoc>('DepotStateA', statePageSchema, 'depot_states_a'),
  b: mongoose.model<StatePageDoc>('DepotStateB', statePageSchema, 'depot_states_b'),
};

/** Which state generation takes new entries. */
const stateMetaSchema = new Schema(
  { _id: { type: String, required: true }, current: { type: String, enum: STATE_GENERATIONS, required: true } },
  { collection: 'depot_state_meta', versionKey: false, _id: false },
);
export const DepotStateMeta = mongoose.model('DepotStateMeta', stateMetaSchema);
