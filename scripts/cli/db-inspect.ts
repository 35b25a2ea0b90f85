import { readFile } from 'node:fs/promises';
import type { Db, Document } from 'mongodb';
import { HOT_QUERIES } from '../../server/src/db/hot-queries.js';
import { dbStateFile, type ProvisionedDatabase } from '../../server/src/db/provision.js';
import { summarizePlan, type PlanSummary } from './query-plan.js';

/** The database server behind KIS, as db:status reports it. */
export interface EngineStatus {
  /** `external` for MONGODB_URI; otherwise the embedded engine KIS started. */
  kind: ProvisionedDatabase['kind'];
  product: 'MongoDB' | 'FerretDB';
  /** MongoDB's version, or FerretDB's own (`v1.24.2`). */
  version: string;
  /** FerretDB only: the MongoDB version it answers like. */
  compatibleWith?: string;
  /** FerretDB only: where it keeps the data; null when nothing says so. */
  backend?: 'sqlite' | 'postgresql' | null;
}

/** One collection's size. */
export interface CollectionStatus {
  name: string;
  /** Null when unknown (a large PostgreSQL table that was never analysed). */
  documents: number | null;
  /** True when `documents` is the server's estimate (FerretDB on PostgreSQL), not a count. */
  estimated: boolean;
  storageBytes: number;
  indexBytes: number;
  indexes: number;
}

/** How one hot query (server/src/db/hot-queries.ts) runs. */
export interface HotQueryStatus extends PlanSummary {
  name: string;
  collection: string;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/**
 * The backend the provisioning layer wrote into `<data>/db.json` (optional `backend`), read
 * defensively: a db.json without it was written by a KIS whose embedded FerretDB ran only on SQLite.
 */
async function backendFromState(dataDir: string | null): Promise<'sqlite' | 'postgresql' | undefined> {
  if (!dataDir) return undefined;
  let state: { kind?: unknown; backend?: unknown };
  try {
    state = JSON.parse(await readFile(dbStateFile(dataDir), 'utf8')) as typeof state;
  } catch {
    return undefined;
  }
  if (state.backend === 'sqlite' || state.backend === 'postgresql') return state.backend;
  return state.backend === undefined && state.kind === 'ferretdb' ? 'sqlite' : undefined;
}

/** Which server answers, from its buildInfo, the data dir's db.json and (for FerretDB's backend) the plans. */
export async function engineStatus(
  buildInfo: Document,
  kind: ProvisionedDatabase['kind'],
  dataDir: string | null,
  plans: readonly HotQueryStatus[],
): Promise<EngineStatus> {
  const version = String(buildInfo.version);
  if (typeof buildInfo.ferretdbVersion !== 'string') return { kind, product: 'MongoDB', version };
  // FerretDB 1.x says nothing of its backend in buildInfo, getParameter or serverStatus; its
  // explain does, by the shape of the plan (when a collection exists to explain).
  const fromPlans = plans.find((p) => p.backend === 'sqlite' || p.backend === 'postgresql')?.backend;
  const backend =
    (fromPlans === 'sqlite' || fromPlans === 'postgresql' ? fromPlans : undefined) ??
    (await backendFromState(dataDir)) ??
    null;
  return { kind, product: 'FerretDB', version: buildInfo.ferretdbVersion, compatibleWith: version, backend };
}

/** The database's collections by name, system collections left out. */
export async function collectionNames(db: Db): Promise<string[]> {
  return (await db.listCollections({ type: 'collection' }, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .filter((name) => !name.startsWith('system.'))
    .sort();
}

/** How far a count of a never-analysed PostgreSQL table reads before it gives up. */
const COUNT_LIMIT = 100_000;

/**
 * The collections' sizes. $collStats answers from metadata on MongoDB and on both FerretDB
 * backends, where collStats and estimatedDocumentCount read every document (2 s for 50,000 on
 * SQLite, 0.7 s on PostgreSQL). On FerretDB's PostgreSQL backend its count is PostgreSQL's
 * estimate (`estimated`), and -1 for a table never analysed: such a table is young, so it is
 * counted, up to {@link COUNT_LIMIT} documents.
 */
export async function collectionStatus(
  db: Db,
  names: readonly string[],
  countsEstimated: boolean,
): Promise<CollectionStatus[]> {
  const result: CollectionStatus[] = [];
  for (const name of names) {
    const collection = db.collection(name);
    const [stats] = await collection
      .aggregate<{ storageStats?: Document }>([{ $collStats: { storageStats: {} } }])
      .toArray();
    const s = stats?.storageStats ?? {};
    let count: number | null = numberOr(s.count, -1);
    let estimated = countsEstimated;
    if (count < 0) {
      count = await collection.countDocuments({}, { limit: COUNT_LIMIT });
      estimated = false;
      if (count >= COUNT_LIMIT) count = null;
    }
    result.push({
      name,
      documents: count,
      estimated,
      storageBytes: numberOr(s.storageSize, 0),
      indexBytes: numberOr(s.totalIndexSize, 0),
      indexes: numberOr(s.nindexes, 0),
    });
  }
  return result;
}

/** Explains every hot query; a query on a collection that does not exist yet reads nothing. */
export async function hotQueryStatus(db: Db, existing: ReadonlySet<string>): Promise<HotQueryStatus[]> {
  const result: HotQueryStatus[] = [];
  for (const q of HOT_QUERIES) {
    const head = { name: q.name, collection: q.collection };
    if (!existing.has(q.collection)) {
      result.push({ ...head, index: false, plan: 'no collection yet' });
      continue;
    }
    try {
      const explain = await db
        .collection(q.collection)
        .find(q.filter, { ...(q.sort ? { sort: q.sort } : {}), ...(q.limit ? { limit: q.limit } : {}) })
        .explain('queryPlanner');
      result.push({ ...head, ...summarizePlan(explain, q.collection) });
    } catch (err) {
      result.push({ ...head, index: false, plan: `explain failed: ${(err as Error).message}` });
    }
  }
  return result;
}
