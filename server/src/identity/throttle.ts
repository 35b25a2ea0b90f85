import { RateLimited } from '../errors.js';
import { Throttle } from './throttle-model.js';

/** Brute-force limits, Keycloak's model: a lockout after every `maxFailures` failures, growing by a step up to a maximum. */
export interface ThrottlePolicy {
  maxFailures: number;
  lockoutStepMs: number;
  lockoutMaxMs: number;
  failureResetMs: number;
}

/** What a recorded failure led to. */
export interface FailureOutcome {
  failures: number;
  /** Set when this failure started a lockout. */
  lockedUntil?: Date;
  /** How long to hold the answer to this failed attempt: grows with each failure. */
  delayMs: number;
}

/** Throws {@link RateLimited} when any of the keys is locked out now. */
export async function assertNotLocked(keys: readonly string[], code = 'locked'): Promise<void> {
  const now = new Date();
  const locked = await Throttle.find({ key: { $in: keys }, lockedUntil: { $gt: now } }, { lockedUntil: 1 }).lean();
  if (locked.length === 0) return;
  const until = Math.max(...locked.map((t) => t.lockedUntil?.getTime() ?? 0));
  throw new RateLimited(code, Math.ceil((until - now.getTime()) / 1000));
}

/**
 * Counts a failure against a key. After `maxFailures` failures in a row (none older than the reset
 * time) the key is locked for one more step, up to the maximum; the count goes on, so every further
 * `maxFailures` failures lock again for longer.
 */
export async function recordFailure(key: string, policy: ThrottlePolicy): Promise<FailureOutcome> {
  const now = new Date();
  const resetBefore = new Date(now.getTime() - policy.failureResetMs);
  // Stale counts start again: one write that resets only when the last failure is old.
  await Throttle.updateOne(
    { key, lastFailureAt: { $lt: resetBefore } },
    { $set: { failures: 0, lockouts: 0 }, $unset: { lockedUntil: 1 } },
  );
  const doc = await Throttle.findOneAndUpdate(
    { key },
    { $inc: { failures: 1 }, $set: { lastFailureAt: now }, $setOnInsert: { lockouts: 0 } },
    { upsert: true, new: true },
  ).lean();
  const failures = doc?.failures ?? 1;
  const delayMs = Math.min(3000, 100 * 2 ** Math.min(failures - 1, 5));
  if (failures % policy.maxFailures !== 0) return { failures, delayMs };
  const lockouts = (doc?.lockouts ?? 0) + 1;
  const lockedUntil = new Date(now.getTime() + Math.min(policy.lockoutMaxMs, policy.lockoutStepMs * lockouts));
  await Throttle.updateOne({ key }, { $set: { lockouts, lockedUntil } });
  return { failures, lockedUntil, delayMs };
}

/** Forgets the failures of a key (a successful login, or an admin's unlock). */
export async function clear(key: string): Promise<void> {
  await Throttle.deleteOne({ key });
}

/** The lockout of a key, if one is in force. */
export async function lockedUntil(key: string): Promise<Date | undefined> {
  const doc = await Throttle.findOne({ key, lockedUntil: { $gt: new Date() } }, { lockedUntil: 1 }).lean();
  return doc?.lockedUntil ?? undefined;
}

/** Creates the throttle collection's indexes. */
export async function init(): Promise<void> {
  await Throttle.createIndexes();
}
