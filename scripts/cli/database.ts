import type { Config } from '../../server/src/config.js';
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
 * one for the command, connects mongoose, and cleans up afterwards.
 */
export async function withDatabase<T>(config: Config, run: (masterKey: Buffer) => Promise<T>): Promise<T> {
  const masterKey = await loadMasterKey(config);
  const db = await provisionFor(config);
  try {
    await connectDatabase(db.uri);
    try {
      return await run(masterKey);
    } finally {
      await disconnectDatabase();
    }
  } finally {
    await db.stop();
  }
}
