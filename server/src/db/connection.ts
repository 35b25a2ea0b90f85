import mongoose, { type Connection } from 'mongoose';

/** The database KIS uses when the URI names none. */
export const DEFAULT_DB_NAME = 'kis';

/** The database name in a MongoDB URI's path, or the default. */
export function databaseName(uri: string): string {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : DEFAULT_DB_NAME;
}

/** Removes a password from a URI, for logs and status output. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

/**
 * Opens the mongoose connection the whole process shares. Server selection is kept short so that
 * a request fails fast while the database is away; the driver reconnects on its own when it returns.
 */
export async function connectDatabase(uri: string): Promise<Connection> {
  mongoose.set('strictQuery', true);
  await mongoose.connect(uri, {
    dbName: databaseName(uri),
    serverSelectionTimeoutMS: 5000,
    heartbeatFrequencyMS: 2000,
    // Indexes are created explicitly by each module at start-up, never implicitly on a hot path.
    autoIndex: false,
  });
  return mongoose.connection;
}

/** True when the database answers a ping within the timeout. */
export async function isDatabaseReachable(connection: Connection, timeoutMs = 1500): Promise<boolean> {
  const db = connection.db;
  // readyState lags behind a vanished server; only an answered ping counts.
  if (!db) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      db.command({ ping: 1 }).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Closes the shared connection; safe to call twice. */
export async function disconnectDatabase(): Promise<void> {
  await mongoose.disconnect();
}
