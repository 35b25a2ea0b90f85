import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { provisionDatabase } from '../server/src/db/provision.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URI of the run's database server, ending in '/'; each test file picks its own database name. */
    mongoUri: string;
  }
}

/**
 * Provisions the database once per test run, the way the server does (MONGODB_URI, else an
 * embedded server), and stops it at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = path.join(os.tmpdir(), `kis-test-db-${process.pid}`);
  const db = await provisionDatabase({
    dataDir,
    mongodbUri: process.env.MONGODB_URI,
    log: (msg) => console.log(`[test db] ${msg}`),
  });
  const base = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  project.provide('mongoUri', base);
  console.log(`[test db] ${db.kind} at ${base} (${project.name})`);
  return async () => {
    await db.stop();
    if (db.owned) await rm(dataDir, { recursive: true, force: true });
  };
}
