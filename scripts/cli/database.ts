import type { Config } from '../../server/src/config.js';
import type { Db } from 'mongodb';
import { createFileStore, settleFileStoreKind, type FileStore } from '../../server/src/areas/storage/index.js';
import { loadMasterKey } from '../../server/src/crypto/master-key.js';
import { connectDatabase, disconnectDatabase } from '../../server/src/db/connection.js';
import { engineChoice } from '../../server/src/db/engines.js';
import { provisionDatabase, type ProvisionedDatabase } from '../../server/src/db/provision.js';

/** The database for the configuration, as the server would pick it (reusing a running embedded one). */
export function provisionFor(config: Config): Promise<ProvisionedDatabase> {
  return provisionDatabase({
    dataDir: config.dataDir,
    mongodbUri: config.MONGODB_URI,
    ...engineChoice(config.KIS_DB_ENGINE),
    log: (msg) => process.stderr.write(`${msg}\n`),
  });
}

/**
 * Runs a CLI command against the portal's database: reuses the running embedded server or starts
 * one for the command, connects mongoose, and cleans up afterwards. `run` gets the master key and
 * the file store the server uses.
 */
export async function withDatabase<T>(
  config: Config,
  run: (masterKey: Buffer, files: FileStore) => Promise<T>,
): Promise<T> {
  const masterKey = await loadMasterKey(config);
  const db = await provisionFor(config);
  try {
    const connection = await connectDatabase(db.uri);
    // The server's choice of where file bytes live; the store is not initialised (a server may run).
    const database = (): Db => {
      if (!connection.db) throw new Error('not connected');
      return connection.db;
    };
    const kind = await settleFileStoreKind(config.KIS_FILE_STORE, db.kind === 'external', database());
    const files = createFileStore(kind, { dataDir: config.dataDir, masterKey, database });
    try {
      return await run(masterKey, files);
    } finally {
      await disconnectDatabase();
    }
  } finally {
    await db.stop();
  }
}

/**
 * The disk store of the configuration's data directory, whatever the database notes: a backup's
 * stored files came from a disk store, and the restored database's note says so.
 */
export function diskStoreFor(config: Config, masterKey: Buffer): FileStore {
  return createFileStore('disk', {
    dataDir: config.dataDir,
    masterKey,
    database: () => {
      throw new Error('the disk store needs no database');
    },
  });
}
