import { readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Document } from 'mongodb';
import { ferretdbEngine } from './engines.js';
import { freePort } from './free-port.js';
import { spawnTied } from './tied-process.js';

/** Where the SQLite files are kept after their data moved: nothing is deleted. */
export const MIGRATED_SQLITE_DIR = 'ferretdb-sqlite-moved-to-postgresql';

/** Documents per insert, and the bytes at which a batch is sent earlier (file chunks are 255 KiB). */
const BATCH_DOCS = 1000;
const BATCH_BYTES = 8 * 1024 * 1024;

/** Databases that belong to the server, not to KIS. */
const SYSTEM_DATABASES = new Set(['admin', 'local', 'config']);

/** Reads documents as stored: no conversion of longs, decimals, binaries or regular expressions. */
const RAW = { promoteLongs: false, promoteValues: false, promoteBuffers: false, bsonRegExp: true } as const;

async function copyCollection(
  source: MongoClient,
  target: MongoClient,
  dbName: string,
  name: string,
  log: (msg: string) => void,
): Promise<void> {
  const from = source.db(dbName).collection(name);
  const into = await target.db(dbName).createCollection(name);
  for (const index of await from.indexes()) {
    if (index.name === '_id_') continue;
    // The options as given when it was made: name, unique, sparse, partial filter.
    const options = Object.fromEntries(Object.entries(index).filter(([field]) => !['key', 'v', 'ns'].includes(field)));
    await into.createIndex(index.key, options);
  }
  let batch: Document[] = [];
  let bytes = 0;
  let copied = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await into.insertMany(batch, { ordered: false, checkKeys: false });
    copied += batch.length;
    batch = [];
    bytes = 0;
  };
  for await (const doc of from.find({}, { ...RAW, batchSize: BATCH_DOCS })) {
    batch.push(doc);
    bytes += JSON.stringify(doc).length;
    if (batch.length >= BATCH_DOCS || bytes >= BATCH_BYTES) {
      await flush();
      if (copied % 50_000 === 0) log(`  ${dbName}.${name}: ${copied} documents so far`);
    }
  }
  await flush();
  const [had, has] = await Promise.all([from.countDocuments(), into.countDocuments()]);
  if (had !== has) throw new Error(`${dbName}.${name}: ${had} documents in SQLite, ${has} after copying`);
  log(`  ${dbName}.${name}: ${has} documents`);
}

/**
 * Moves the data of an embedded FerretDB on SQLite (`<db>/ferretdb`, the layout before KIS ran
 * FerretDB on PostgreSQL) into the running server at `into`: every database, collection, index and
 * document, counted on both sides. The SQLite files are then renamed, not deleted. A run that
 * fails leaves them where they are; the next start copies again from the beginning.
 *
 * Does nothing when there are no SQLite files.
 */
export async function migrateSqliteData(options: {
  dbDir: string;
  ferretdb: string;
  into: string;
  log: (msg: string) => void;
}): Promise<void> {
  const sqliteDir = path.join(options.dbDir, 'ferretdb');
  const files = await readdir(sqliteDir).catch(() => [] as string[]);
  if (!files.some((f) => f.endsWith('.sqlite'))) return;
  const { log } = options;
  log(`moving the data in ${sqliteDir} (SQLite) into PostgreSQL`);

  const port = await freePort();
  const sourceUri = `mongodb://127.0.0.1:${port}/`;
  const server = await spawnTied({
    binary: options.ferretdb,
    args: ferretdbEngine(options.ferretdb, 'sqlite').args(port, sqliteDir),
    logFile: path.join(options.dbDir, 'ferretdb.log'),
  });
  const source = new MongoClient(sourceUri, { directConnection: true, serverSelectionTimeoutMS: 30_000 });
  const target = new MongoClient(options.into, { directConnection: true });
  try {
    for (let i = 0; ; i++) {
      try {
        await source.db('admin').command({ ping: 1 });
        break;
      } catch (err) {
        if (server.exited || i > 300) throw err;
        await sleep(100);
      }
    }
    const { databases } = await source.db('admin').admin().listDatabases();
    for (const { name: dbName } of databases) {
      if (SYSTEM_DATABASES.has(dbName)) continue;
      // Leftovers of an earlier attempt that stopped half-way.
      await target.db(dbName).dropDatabase();
      const collections = await source.db(dbName).listCollections({}, { nameOnly: true }).toArray();
      for (const { name } of collections) await copyCollection(source, target, dbName, name, log);
    }
  } finally {
    await source.close().catch(() => undefined);
    await target.close().catch(() => undefined);
    await server.stop('SIGTERM');
  }
  let kept = path.join(options.dbDir, MIGRATED_SQLITE_DIR);
  if (await stat(kept).catch(() => undefined)) kept = `${kept}-${Date.now()}`;
  await rename(sqliteDir, kept);
  log(`the data is in PostgreSQL now; the SQLite files are kept in ${kept} and may be deleted`);
}
