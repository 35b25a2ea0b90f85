import { ObjectId, type Document, type Sort } from 'mongodb';
import { historyFilter } from '../depots/history-query.js';

/**
 * A query KIS issues on a hot path, in the shape the code sends it, with placeholder values:
 * `npm run kis -- db:status` asks the database to explain each one (no data is needed for that).
 */
export interface HotQuery {
  /** Stable name, shown by db:status and used by scripts that compare plans. */
  name: string;
  collection: string;
  filter: Document;
  sort?: Sort;
  limit?: number;
}

// Placeholders in the formats KIS uses: a depot id is 16 hex digits, a session's idHash 64.
const DEPOT_ID = '0123456789abcdef';
const ORG_ID = '000000000000000000000001';
const USER_ID = '000000000000000000000002';
const SESSION_ID = new ObjectId('000000000000000000000003');
const SESSION_ID_HASH = '0'.repeat(64);
const FROM = new Date('2025-01-01T00:00:00Z');
const TO = new Date('2025-02-01T00:00:00Z');
const NOW = new Date('2025-06-01T00:00:00Z');

/** The queries whose plans decide how fast KIS stays as its data grows. */
export const HOT_QUERIES: readonly HotQuery[] = [
  // depots/history-read.ts newestEntries: a depot's history page, newest first, one month per query.
  {
    name: 'depot history page',
    collection: 'depot_history',
    filter: { ...historyFilter(DEPOT_ID, {}), depotMonth: `${DEPOT_ID}/2025-06` },
    sort: { at: -1, _id: -1 },
    limit: 51,
  },
  // depots/history-read.ts newestEntries: the same page filtered by kind and time range.
  {
    name: 'depot history filtered',
    collection: 'depot_history',
    filter: {
      ...historyFilter(DEPOT_ID, { from: FROM.toISOString(), to: TO.toISOString(), kind: 'key_removed' }),
      depotMonth: `${DEPOT_ID}/2025-01`,
    },
    sort: { at: -1, _id: -1 },
    limit: 51,
  },
  // depots/history-read.ts entriesOldestFirst: a depot's history for an export, oldest first, a month at a time.
  {
    name: 'depot history export',
    collection: 'depot_history',
    filter: {
      ...historyFilter(DEPOT_ID, { from: FROM.toISOString(), to: TO.toISOString() }),
      depotMonth: `${DEPOT_ID}/2025-01`,
    },
    sort: { at: 1, _id: 1 },
  },
  // depots/service.ts loadDepot: one depot by _id, before every depot read or command.
  { name: 'depot by id', collection: 'depots', filter: { _id: DEPOT_ID } },
  // depots/service.ts listCommands: a depot's commands page, newest first.
  {
    name: 'depot commands',
    collection: 'depot_commands',
    filter: { depotId: DEPOT_ID },
    sort: { cmd: -1 },
    limit: 25,
  },
  // depots/service.ts listPins: a depot's PINs, newest first.
  {
    name: 'depot pins',
    collection: 'depot_pins',
    filter: { depotId: DEPOT_ID },
    sort: { createdAt: -1 },
    limit: 500,
  },
  // audit/service.ts list: the audit log page without filters, newest first, by its page blocks.
  { name: 'audit page', collection: 'audit', filter: { block: 41 } },
  // audit/service.ts listForActor: the newest entries a user caused, on the admin's user page.
  { name: 'audit by actor', collection: 'audit', filter: { actorId: USER_ID }, sort: { seq: -1 }, limit: 20 },
  // identity/user-search.ts searchUsers: the admin's user search, the search keys of a trigram of it
  // (the whole text is checked on those), then the page's users by _id.
  { name: 'user search', collection: 'user_search_keys', filter: { g: 'smi' } },
  // identity/throttle.ts lockoutsInForce: the lockouts shown in the admin's user list, one look-up.
  { name: 'lockouts in force', collection: 'throttles', filter: { locked: true } },
  // identity/sessions.ts lookup: a session by its cookie, when no live actor knows it (after a restart).
  {
    name: 'session by cookie',
    collection: 'sessions',
    filter: { idHash: SESSION_ID_HASH, endedAt: { $exists: false } },
  },
  // identity/sessions.ts: a session by _id, written on activity and on its end.
  { name: 'session by id', collection: 'sessions', filter: { _id: SESSION_ID } },
  // mail/service.ts drain: the next queued mail that is due (findOneAndUpdate with this filter and sort).
  {
    name: 'outbox due mail',
    collection: 'outbox',
    filter: {
      status: 'queued',
      nextAttemptAt: { $lte: NOW },
      $or: [{ claimedUntil: { $exists: false } }, { claimedUntil: null }, { claimedUntil: { $lte: NOW } }],
    },
    sort: { nextAttemptAt: 1 },
    limit: 1,
  },
  // overview/service.ts: the operator's home counts these on every visit (mail/, identity/, privacy/ figures.ts).
  { name: 'outbox waiting', collection: 'outbox', filter: { status: 'queued' } },
  { name: 'new registrations', collection: 'users', filter: { registeredDay: '2025-06-01' } },
  { name: 'disabled depots', collection: 'depots', filter: { status: 'disabled' } },
  { name: 'erasures due', collection: 'erasure_requests', filter: { state: 'waiting', notBefore: { $lte: NOW } } },
  // payments/invoices.ts listInvoices: an organization's invoices page, newest first.
  {
    name: 'invoices of an org',
    collection: 'invoices',
    filter: { organizationId: ORG_ID },
    sort: { createdAt: -1, _id: -1 },
    limit: 25,
  },
];
