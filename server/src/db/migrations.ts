import mongoose from 'mongoose';
import { isDuplicateKeyError } from './query.js';

/**
 * Data migrations that run once per database, recorded by name in `schema_migrations`. A step
 * must be idempotent: a crash between doing it and recording it runs it again at the next start.
 */
const done = () => mongoose.connection.collection<{ _id: string; doneAt: Date }>('schema_migrations');

/**
 * Runs `step` unless a migration of this name already ran on this database; returns whether it ran.
 *
 * @example
 * await runOnce('2026-12-legacy-unverified', () => User.updateMany(…));
 */
export async function runOnce(name: string, step: () => Promise<unknown>): Promise<boolean> {
  if (await done().findOne({ _id: name })) return false;
  await step();
  try {
    await done().insertOne({ _id: name, doneAt: new Date() });
  } catch (err) {
    // Another process on the same database recorded it first: both ran an idempotent step.
    if (!isDuplicateKeyError(err)) throw err;
  }
  return true;
}
