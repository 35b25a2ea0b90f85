/**
 * A year of a depot fleet's data for the volume benchmark, written straight into the database
 * before the server starts (through the server's own mongoose models' collections, in the shapes
 * the server writes): companies with their users, depots, their history, the hash-chained audit
 * log, customers and invoices. Every collection's indexes are made first, as the server makes them
 * at its start, so that inserting pays for them as it does in a year of real use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { chainEntry, verifyChain, type AuditInput } from '../../server/src/audit/service.js';
import { AuditEntry } from '../../server/src/audit/model.js';
import { loadMasterKey } from '../../server/src/crypto/master-key.js';
import { createSecretBox, type SecretBox } from '../../server/src/crypto/secret-box.js';
import { connectDatabase, disconnectDatabase } from '../../server/src/db/connection.js';
import { Depot, DepotHistory } from '../../server/src/depots/model.js';
import { Organization } from '../../server/src/identity/organization-model.js';
import { hashPassword } from '../../server/src/identity/passwords.js';
import { User } from '../../server/src/identity/user-model.js';
import { addKeys, UserSearchKey } from '../../server/src/identity/user-search-keys.js';
import { addDays, dayIn, totals } from '../../server/src/payments/amounts.js';
import { Customer, Invoice, InvoiceNumber, PaymentSettings } from '../../server/src/payments/model.js';
import { BENCH_PASSWORD, depotEvent, insertBenchDepots, insertInBatches, log, type InsertTarget } from './common.js';

/** How much a year holds. */
export interface VolumeSize {
  depots: number;
  /** History entries of all depots together, spread evenly over the depots and the year. */
  entries: number;
  audit: number;
  invoices: number;
  users: number;
  organizations: number;
  /** Documents per insertMany. */
  batch: number;
}

/** How fast one collection was written. */
export interface SeedRate {
  documents: number;
  seconds: number;
  perSecond: number;
}

/** What was seeded, for the measurements to pick from, and how long it took. */
export interface SeededYear {
  /** The year covered: every seeded entry lies in [from, to). */
  from: Date;
  to: Date;
  depotIds: string[];
  entriesPerDepot: number;
  users: Array<{ id: string; email: string; name: string }>;
  /** Family names the users carry, each shared by about users / {@link FAMILY_NAMES}.length users. */
  searchTerms: readonly string[];
  seconds: number;
  collections: Record<'organizations' | 'users' | 'depots' | 'history' | 'audit' | 'invoices', SeedRate>;
  /** The seeded audit chain checked by the audit module's own verifier, and how long that took. */
  auditChain: { ok: boolean; entries: number; seconds: number };
}

const YEAR_MS = 365 * 24 * 3600_000;
const TIME_ZONE = 'Europe/Berlin';
/** How long a released PIN holds (the companies' payment setting). */
const PIN_VALID_DAYS = 7;
const GIVEN_NAMES = ['Anna', 'Jörg', 'Leonie', 'Mehmet', 'Sabine', 'Thomas', 'Özlem', 'Lukas', 'Katrin', 'Jan'];
const FAMILY_NAMES = [
  'Müller',
  'Schmidt',
  'Schneider',
  'Fischer',
  'Weber',
  'Meyer',
  'Wagner',
  'Becker',
  'Schulz',
  'Hoffmann',
  'Schäfer',
  'Koch',
  'Bauer',
  'Richter',
  'Klein',
  'Wolf',
  'Schröder',
  'Neumann',
  'Schwarz',
  'Zimmermann',
] as const;
const CITIES = ['Hamburg', 'Köln', 'München', 'Leipzig', 'Bremen'];

const round1 = (x: number): number => Math.round(x * 10) / 10;

function rate(documents: number, seconds: number): SeedRate {
  return { documents, seconds: round1(seconds), perSecond: Math.round(documents / seconds) };
}

/** What seeding needs of a mongoose model: its schema, its collection and its indexes. */
interface SeedModel {
  readonly modelName: string;
  readonly collection: InsertTarget;
  createIndexes(): Promise<unknown>;
  new (doc: Record<string, unknown>): { validateSync(): { message: string } | null | undefined };
}

/** Checks one document of a kind against the model's schema: the seeded shapes are the server's. */
function assertShape(model: SeedModel, doc: Record<string, unknown>): void {
  const error = new model(doc).validateSync();
  if (error) throw new Error(`a seeded ${model.modelName} does not fit its schema: ${error.message}`);
}

/** Writes `count` documents into a model's collection, the first checked against its schema. */
async function seedCollection(
  model: SeedModel,
  count: number,
  batch: number,
  make: (i: number) => Record<string, unknown>,
  label: string,
): Promise<SeedRate> {
  if (count === 0) return rate(0, 1);
  assertShape(model, make(0));
  log(`seeding ${count} ${label} …`);
  const { seconds } = await insertInBatches(model.collection, count, batch, make, label);
  return rate(count, seconds);
}

/** The users of company `org`: the first is its main account, the others sub-accounts. */
function userDoc(
  i: number,
  size: VolumeSize,
  ids: { users: Types.ObjectId[]; organizations: Types.ObjectId[] },
  passwordHash: string,
  from: Date,
): Record<string, unknown> {
  const org = i % size.organizations;
  const given = GIVEN_NAMES[i % GIVEN_NAMES.length] ?? '';
  const family = FAMILY_NAMES[Math.floor(i / GIVEN_NAMES.length) % FAMILY_NAMES.length] ?? '';
  const email = `${given}.${family}.${i}@firma-${org}.example`;
  const createdAt = new Date(from.getTime() + ((i * 7919) % 1000) * (YEAR_MS / 4000));
  return {
    _id: ids.users[i],
    email,
    emailLower: email.toLowerCase(),
    name: `${given} ${family}`,
    phone: '',
    language: 'de',
    role: 'customer',
    status: 'active',
    passwordHash,
    passwordChangedAt: createdAt,
    emailVerifiedAt: createdAt,
    organizationId: String(ids.organizations[org]),
    accountType: i < size.organizations ? 'main' : 'sub',
    rights: i < size.organizations ? [] : ['read_areas', 'manage_files', 'see_depots'],
    redirectToMain: false,
    allowedIpRanges: [],
    createdAt,
    lastLoginAt: new Date(from.getTime() + YEAR_MS - ((i * 104_729) % 30) * 86_400_000),
  };
}

/** The `i`th audit entry's content: what people and the system did during the year, in turn. */
function auditInput(i: number, users: SeededYear['users'], depotIds: readonly string[]): AuditInput {
  const user = users[i % users.length];
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const actor = { actorId: user?.id, actorEmail: user?.email, ip };
  switch (i % 8) {
    case 0:
    case 1:
    case 2:
      return { ...actor, action: 'login.succeeded', outcome: 'success', target: randomBytes(16).toString('hex') };
    case 3:
      return { ...actor, action: 'logout', outcome: 'success' };
    case 4:
      return { ...actor, action: 'login.failed', outcome: 'failure', details: { failures: 1, reason: 'credentials' } };
    case 5:
      return {
        ...actor,
        action: 'depot.history_exported',
        outcome: 'success',
        target: `Depot ${i % depotIds.length}`,
        details: { depotId: depotIds[i % depotIds.length] ?? null, kind: null, from: null, to: null },
      };
    case 6:
      return {
        ...actor,
        action: 'file.downloaded',
        outcome: 'success',
        target: user?.email,
        details: { file: `Lieferschein ${i}.pdf` },
      };
    default:
      return {
        ...actor,
        action: 'depot.pin_created',
        outcome: 'success',
        target: depotIds[i % depotIds.length],
        details: { comp: (i % 8) + 1 },
      };
  }
}

/** Companies' invoicing: settings, customers, invoices issued over the year with their numbers. */
async function seedInvoices(
  size: VolumeSize,
  organizations: Types.ObjectId[],
  mainUsers: Types.ObjectId[],
  depotIds: readonly string[],
  box: SecretBox,
  year: { from: Date; to: Date },
): Promise<SeedRate> {
  const { from, to } = year;
  const issuer = (org: number): Record<string, string> => ({
    name: `Schlüsseldienst ${org} GmbH`,
    street: `Hafenstraße ${org + 1}`,
    postalCode: '20457',
    city: CITIES[org % CITIES.length] ?? 'Hamburg',
    country: 'DE',
    taxNumber: `22/${100 + org}/01234`,
    vatId: `DE${String(123456789 + org)}`,
    email: `rechnung@firma-${org}.example`,
    phone: '+49 40 123456',
  });
  await seedCollection(
    PaymentSettings,
    size.organizations,
    size.batch,
    (org) => ({
      _id: String(organizations[org]),
      issuer: issuer(org),
      numberPrefix: 'RE-',
      paymentTermDays: 14,
      pinValidDays: PIN_VALID_DAYS,
      webhookKey: randomBytes(24).toString('base64url'),
      updatedAt: from,
    }),
    'payment settings',
  );
  const customersPerOrg = Math.max(1, Math.round(size.invoices / size.organizations / 10));
  const customerIds = Array.from({ length: customersPerOrg * size.organizations }, () => new Types.ObjectId());
  // What an invoice copies of its customer when it is issued.
  const contact = (c: number): Record<string, string> => ({
    name: `${FAMILY_NAMES[c % FAMILY_NAMES.length] ?? ''} & Partner`,
    email: `kunde${c}@kunden.example`,
    phone: '',
    reference: `K-${10_000 + c}`,
    street: `Lindenallee ${(c % 90) + 1}`,
    postalCode: String(10_000 + ((c * 37) % 89_999)),
    city: CITIES[c % CITIES.length] ?? 'Hamburg',
  });
  await seedCollection(
    Customer,
    customerIds.length,
    size.batch,
    (c) => ({
      _id: customerIds[c],
      organizationId: String(organizations[c % size.organizations]),
      ...contact(c),
      createdAt: from,
      createdBy: String(mainUsers[c % size.organizations]),
    }),
    'customers',
  );

  const invoiceIds = Array.from({ length: size.invoices }, () => new Types.ObjectId());
  // Invoices are issued in time order, each company's numbered 1, 2, … without gaps.
  const invoice = (i: number): Record<string, unknown> => {
    const org = i % size.organizations;
    const seq = Math.floor(i / size.organizations) + 1;
    const c = org + size.organizations * (seq % customersPerOrg);
    const at = new Date(from.getTime() + ((i + 0.5) / size.invoices) * YEAR_MS);
    const id = String(invoiceIds[i]);
    const items = [
      { description: 'Schlüsselfach, Monatsmiete', quantity: 1000, unitNetCents: 4900, vatRate: 19 },
      ...(i % 3 === 0 ? [{ description: 'Ersatzschlüssel', quantity: 2000, unitNetCents: 1250, vatRate: 19 }] : []),
    ];
    const sum = totals(items);
    const issueDate = dayIn(TIME_ZONE, at);
    const token = randomBytes(24).toString('base64url');
    // Every invoice is settled as a year leaves them: paid within minutes; a compartment's invoice
    // had its PIN released on payment and was picked up, or (1 in 10, long ago) its window closed
    // unused. None is paid and waiting for pick-up: the payments reconciliation (every minute) would
    // look each such invoice's PIN up in the depot history, a query that scans the history on
    // FerretDB/SQLite and, repeated, would keep the database busy throughout the measurements.
    const paidAt = new Date(at.getTime() + 5 * 60_000);
    const depotId = i % 2 === 0 ? depotIds[i % depotIds.length] : undefined;
    const pinValidUntil = new Date(paidAt.getTime() + PIN_VALID_DAYS * 86_400_000);
    const windowClosedUnused = i % 10 === 9 && pinValidUntil < to;
    const state =
      i % 10 === 7 ? 'open' : i % 10 === 8 ? 'cancelled' : depotId && !windowClosedUnused ? 'picked_up' : 'paid';
    const paid = state === 'paid' || state === 'picked_up';
    return {
      _id: invoiceIds[i],
      organizationId: String(organizations[org]),
      state,
      seq,
      number: `RE-${String(seq).padStart(5, '0')}`,
      customerId: String(customerIds[c]),
      customer: contact(c),
      issuer: issuer(org),
      items,
      netCents: sum.netCents,
      vatCents: sum.vatCents,
      grossCents: sum.grossCents,
      issueDate,
      serviceDate: issueDate,
      dueDays: 14,
      dueDate: addDays(issueDate, 14),
      ...(depotId
        ? { depotId, comp: (i % 8) + 1, depotName: `Depot ${i % depotIds.length}`, depotLocation: 'Hamburg, Tor 3' }
        : {}),
      note: '',
      payTokenHash: createHash('sha256').update(token).digest('hex'),
      sealedPayToken: box.seal(Buffer.from(token), `payments:invoice:${id}:token`),
      orderAttempt: state === 'open' ? 0 : 1,
      ...(paid ? { orderId: `ORDER-${i}`, orderAt: paidAt, captureId: `CAPTURE-${i}`, paidAt } : {}),
      ...(paid && depotId ? { pinId: `inv-${id}`, pinValidFrom: paidAt, pinValidUntil, pinMailedAt: paidAt } : {}),
      ...(state === 'picked_up' ? { pickedUpAt: new Date(paidAt.getTime() + 5 * 60_000) } : {}),
      ...(state === 'cancelled' ? { closedAt: paidAt } : {}),
      createdAt: at,
      createdBy: String(mainUsers[org]),
    };
  };
  const invoices = await seedCollection(Invoice, size.invoices, size.batch, invoice, 'invoices');
  await seedCollection(
    InvoiceNumber,
    size.invoices,
    size.batch,
    (i) => {
      const org = String(organizations[i % size.organizations]);
      const seq = Math.floor(i / size.organizations) + 1;
      return { _id: `${org}:${seq}`, organizationId: org, seq, invoiceId: String(invoiceIds[i]), at: from };
    },
    'invoice numbers',
  );
  return invoices;
}

/** When the `n`th entry (from 1) of the `depot`th depot (from 0) of a seeded fleet happened. */
function seededAt(from: Date, entriesPerDepot: number, depots: number, depot: number, n: number): Date {
  return new Date(from.getTime() + (n - 1 + depot / depots) * (YEAR_MS / entriesPerDepot));
}

/**
 * How many seeded history entries lie in [from, to): what an export of that range must hold (the
 * server adds entries only after the seeded year ends). Counted by the seeding's own formula.
 */
export function seededEntriesBetween(seed: SeededYear, from: Date, to: Date): number {
  let count = 0;
  for (let depot = 0; depot < seed.depotIds.length; depot++) {
    for (let n = 1; n <= seed.entriesPerDepot; n++) {
      const at = seededAt(seed.from, seed.entriesPerDepot, seed.depotIds.length, depot, n).getTime();
      if (at >= from.getTime() && at < to.getTime()) count++;
    }
  }
  return count;
}

/**
 * Seeds a year ending now into the database at `uri`, for a server that will run with `dataDir`
 * (whose master key seals the depots' keys and the payment tokens). Run it before the server
 * starts: nothing else may append to the audit chain meanwhile.
 */
export async function seedYear(uri: string, dataDir: string, size: VolumeSize): Promise<SeededYear> {
  const t0 = performance.now();
  const to = new Date();
  const from = new Date(to.getTime() - YEAR_MS);
  const ids = {
    organizations: Array.from({ length: size.organizations }, () => new Types.ObjectId()),
    users: Array.from({ length: size.users }, () => new Types.ObjectId()),
  };

  log(`seeding ${size.depots} depots …`);
  const d0 = performance.now();
  const depots = await insertBenchDepots(uri, dataDir, size.depots, 8, 86_400, (i) => ({
    name: `Depot ${i}`,
    location: `${CITIES[i % CITIES.length] ?? 'Hamburg'}, Tor ${(i % 12) + 1}`,
    organizationId: String(ids.organizations[i % size.organizations]),
    createdAt: from,
  }));
  const depotRate = rate(size.depots, (performance.now() - d0) / 1000);
  const depotIds = depots.map((d) => d.depotId);

  const box = createSecretBox(await loadMasterKey({ dataDir, KIS_MASTER_KEY: undefined }));
  await connectDatabase(uri);
  try {
    // The indexes the server makes at its start, made first: every insert below maintains them.
    for (const model of [
      Organization,
      User,
      UserSearchKey,
      Depot,
      DepotHistory,
      AuditEntry,
      Customer,
      Invoice,
      InvoiceNumber,
    ])
      await model.createIndexes();

    const passwordHash = await hashPassword(BENCH_PASSWORD, 4);
    const organizations = await seedCollection(
      Organization,
      size.organizations,
      size.batch,
      (org) => ({
        _id: ids.organizations[org],
        name: `Firma ${org} GmbH`,
        mainUserId: String(ids.users[org]),
        domains: [],
        createdAt: from,
      }),
      'organizations',
    );
    const userDocs = (i: number): Record<string, unknown> => userDoc(i, size, ids, passwordHash, from);
    const users = await seedCollection(User, size.users, size.batch, userDocs, 'users');
    const seededUsers = Array.from({ length: size.users }, (_, i) => {
      const doc = userDocs(i);
      return { id: String(doc._id), email: String(doc.email), name: String(doc.name) };
    });
    log('writing the user search keys …');
    for (let i = 0; i < size.users; i += 500)
      await addKeys(
        Array.from({ length: Math.min(500, size.users - i) }, (_, j) => {
          const doc = userDocs(i + j);
          return {
            _id: doc._id,
            name: String(doc.name),
            emailLower: String(doc.emailLower),
            createdAt: doc.createdAt as Date,
          };
        }),
      );

    // Entries in time order across the fleet, as a year of telegrams leaves them.
    const entriesPerDepot = Math.max(1, Math.round(size.entries / size.depots));
    const history = await seedCollection(
      DepotHistory,
      entriesPerDepot * size.depots,
      size.batch,
      (i) => {
        const depot = i % size.depots;
        const n = Math.floor(i / size.depots) + 1;
        const at = seededAt(from, entriesPerDepot, size.depots, depot, n);
        return depotEvent(depotIds[depot] ?? '', n, at);
      },
      'history entries',
    );

    // One chain, first entry to last, in time order: the audit module's verifier must accept it.
    let last: { seq: number; hash: string } | undefined;
    const audit = await seedCollection(
      AuditEntry,
      size.audit,
      size.batch,
      (i) => {
        // assertShape builds the first entry once more: it must not move the chain.
        const entry = chainEntry(
          auditInput(i, seededUsers, depotIds),
          i === 0 ? undefined : last,
          new Date(from.getTime() + ((i + 0.5) / size.audit) * YEAR_MS),
        );
        last = entry;
        return entry;
      },
      'audit entries',
    );

    const invoices = await seedInvoices(size, ids.organizations, ids.users, depotIds, box, { from, to });

    // Written as the server writes today (history months, search keys): its start-up migrations
    // for older data have nothing to do, as on a data directory a year of this version wrote.
    await Depot.updateMany({}, { $set: { historyFrom: from } });
    await Depot.db.collection('schema_migrations').insertMany(
      ['2026-12-history-months', '2026-12-user-search-keys'].map((name) => ({
        _id: name as never,
        doneAt: new Date(),
      })),
    );

    log('checking the audit chain …');
    const c0 = performance.now();
    const chain = await verifyChain();
    const auditChain = { ok: chain.ok, entries: chain.entries, seconds: round1((performance.now() - c0) / 1000) };
    if (!chain.ok) throw new Error(`the seeded audit chain breaks at ${chain.brokenAt} (${chain.reason})`);

    return {
      from,
      to,
      depotIds,
      entriesPerDepot,
      users: seededUsers,
      // With few users, only the first family names are given.
      searchTerms: FAMILY_NAMES.slice(0, Math.ceil(size.users / GIVEN_NAMES.length)),
      seconds: round1((performance.now() - t0) / 1000),
      collections: { organizations, users, depots: depotRate, history, audit, invoices },
      auditChain,
    };
  } finally {
    await disconnectDatabase();
  }
}
