import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionDatabase, type ProvisionedDatabase } from '../../../server/src/db/provision.js';

let dataDir: string;
let db: ProvisionedDatabase;
let client: MongoClient;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-twins-'));
  db = await provisionDatabase({ dataDir, only: 'ferretdb', backend: 'postgresql' });
  client = new MongoClient(db.uri);
});

afterAll(async () => {
  await client?.close();
  await db?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** The names of the PostgreSQL indexes a query's plan reads, from FerretDB's explain. */
function indexesIn(plan: unknown): string[] {
  if (Array.isArray(plan)) return plan.flatMap(indexesIn);
  if (!plan || typeof plan !== 'object') return [];
  const node = plan as Record<string, unknown>;
  const own = typeof node['Index Name'] === 'string' ? [node['Index Name']] : [];
  return [...own, ...Object.values(node).flatMap(indexesIn)];
}

async function indexesFor(filter: Document): Promise<string[]> {
  const explained = await client.db('twins').collection('history').find(filter).explain();
  return indexesIn(explained.queryPlanner);
}

describe('FerretDB on KIS’s PostgreSQL', () => {
  it('answers equality look-ups from an index, by _id and by an indexed field', async () => {
    const history = client.db('twins').collection<{ _id: string; depotId: string; at: Date; kind: string }>('history');
    await history.createIndex({ depotId: 1, at: -1 });
    const docs = Array.from({ length: 5000 }, (_, i) => ({
      _id: `d${i % 50}:ev:${i}`,
      depotId: `d${i % 50}`,
      at: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
      kind: i % 2 ? 'key_taken' : 'key_returned',
    }));
    await history.insertMany(docs);
    await client.db('twins').command({ ping: 1 });

    expect(await history.findOne({ _id: 'd7:ev:4007' })).toMatchObject({ depotId: 'd7' });
    expect(await history.countDocuments({ depotId: 'd7' })).toBe(100);
    expect(await indexesFor({ _id: 'd7:ev:4007' })).not.toEqual([]);
    expect(await indexesFor({ depotId: 'd7' })).not.toEqual([]);
    // A field without an index, or only in second place of one, is still read by scanning: the
    // twins follow what MongoDB's indexes serve.
    expect(await indexesFor({ kind: 'key_taken' })).toEqual([]);
    expect(await indexesFor({ at: docs[0]?.at })).toEqual([]);
  });

  it('drops the twin with the index it was made for', async () => {
    const history = client.db('twins').collection('history');
    await history.dropIndex('depotId_1_at_-1');
    expect(await indexesFor({ depotId: 'd7' })).toEqual([]);
    expect(await indexesFor({ _id: 'd7:ev:4007' })).not.toEqual([]);
  });
});
