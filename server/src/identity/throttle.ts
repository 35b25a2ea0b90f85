import type { ErrorCode } from '@kis/protocol/api';
import { isDuplicateKeyError } from '../db/query.js';
import { RateLimited } from '../errors.js';
import { oneAtATime } from '../db/one-at-a-time.js';
import { runOnce } from '../db/migrations.js';
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

/*
 * How attempts are counted. Each key has a window of `maxFailures` attempts (`left`). An attempt
 * is reserved — one conditional write that takes one from `left` — before the password or code is
 * compared, and settled afterwards: a failure stays taken (and counts in `windowFailures`), anything
 * else is given back ({@link release}) or wipes the record ({@link clear}). So guesses sent at once
 * cannot all pass a check made before any of them has failed: at most `maxFailures` are compared,
 * the rest are refused as locked. The failure that fills the window starts the lockout; when it
 * has run out, the next attempt opens a fresh window. The writes to one key's record run one after
 * another in this process (FerretDB does not apply a conditional update atomically).
 */

/** Throws {@link RateLimited} when any of the keys is locked out now. */
export async function assertNotLocked(keys: readonly string[], code: ErrorCode = 'locked'): Promise<void> {
  const now = new Date();
  const locked = await Throttle.find({ key: { $in: keys }, lockedUntil: { $gt: now } }, { lockedUntil: 1 }).lean();
  if (locked.length === 0) return;
  const until = Math.max(...locked.map((t) => t.lockedUntil?.getTime() ?? 0));
  throw new RateLimited(code, Math.ceil((until - now.getTime()) / 1000));
}

/** An update with upsert that, when a racing request inserted the record first, is applied to that record. */
async function upsertOne<T>(run: (upsert: boolean) => Promise<T>): Promise<T> {
  try {
    return await run(true);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return run(false);
  }
}

/** The changes of one key's record, one after another (see one-at-a-time.ts). */
function queued<T>(key: string, change: () => Promise<T>): Promise<T> {
  return oneAtATime(`throttle:${key}`, change);
}

/** Takes one attempt from a key's window; false when none is left or the key is locked out. */
function reserveOne(key: string, policy: ThrottlePolicy): Promise<boolean> {
  return queued(key, () => takeAttempt(key, policy));
}

async function takeAttempt(key: string, policy: ThrottlePolicy): Promise<boolean> {
  const now = new Date();
  const resetBefore = new Date(now.getTime() - policy.failureResetMs);
  // A series with no attempt for the reset time starts again. Setting lastAttemptAt in the same
  // write makes the reset happen once, however many attempts arrive together.
  await Throttle.updateOne(
    { key, lastAttemptAt: { $lt: resetBefore } },
    {
      $set: { failures: 0, windowFailures: 0, lockouts: 0, left: policy.maxFailures, lastAttemptAt: now },
      $unset: { lockedUntil: 1, locked: 1 },
    },
  );
  // A record written before attempts were reserved gets a window; a lockout in it still holds.
  await Throttle.updateOne(
    { key, left: { $exists: false } },
    { $set: { left: policy.maxFailures, windowFailures: 0, lastAttemptAt: now } },
  );
  // A lockout that has run out opens the next window.
  await Throttle.updateOne(
    { key, lockedUntil: { $lte: now } },
    { $set: { left: policy.maxFailures, windowFailures: 0 }, $unset: { lockedUntil: 1, locked: 1 } },
  );
  const take = async (): Promise<boolean> =>
    (
      await Throttle.updateOne(
        { key, left: { $gt: 0 }, lockedUntil: { $exists: false } },
        { $inc: { left: -1 }, $set: { lastAttemptAt: now } },
      )
    ).modifiedCount === 1;
  if (await take()) return true;
  // No record yet: the one that creates it takes the first attempt of the window.
  try {
    const created = await Throttle.updateOne(
      { key },
      {
        $setOnInsert: {
          failures: 0,
          windowFailures: 0,
          lockouts: 0,
          left: policy.maxFailures - 1,
          lastAttemptAt: now,
        },
      },
      { upsert: true },
    );
    if (created.upsertedCount === 1) return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  // Another request created it meanwhile.
  return take();
}

/**
 * How long a refused attempt should wait: until the lockout in force ends, or, when the window is
 * only taken by attempts still in flight, a second (they free their places as they succeed; if they
 * fail, the lockout they start is what the next attempt meets).
 */
async function retryAfterSeconds(key: string, now: Date): Promise<number> {
  const doc = await Throttle.findOne({ key, lockedUntil: { $gt: now } }, { lockedUntil: 1 }).lean();
  return doc?.lockedUntil ? Math.max(1, Math.ceil((doc.lockedUntil.getTime() - now.getTime()) / 1000)) : 1;
}

/**
 * Reserves one attempt on every key before a password or code is compared; throws
 * {@link RateLimited} when a key is locked out or its window is taken by attempts in flight (then
 * nothing stays reserved). Every reserved attempt must be settled: {@link recordFailure} when it
 * failed, {@link release} or {@link clear} otherwise.
 */
export async function reserve(
  keys: readonly string[],
  policy: ThrottlePolicy,
  code: ErrorCode = 'locked',
): Promise<void> {
  const taken: string[] = [];
  for (const key of keys) {
    if (await reserveOne(key, policy)) {
      taken.push(key);
      continue;
    }
    for (const k of taken) await release(k, policy);
    throw new RateLimited(code, await retryAfterSeconds(key, new Date()));
  }
}

/**
 * Settles a reserved attempt as failed. After `maxFailures` failures in a row (none older than the
 * reset time) the key is locked for one more step, up to the maximum; the count goes on, so every
 * further `maxFailures` failures lock again for longer.
 */
export function recordFailure(key: string, policy: ThrottlePolicy): Promise<FailureOutcome> {
  return queued(key, () => countFailure(key, policy));
}

async function countFailure(key: string, policy: ThrottlePolicy): Promise<FailureOutcome> {
  const now = new Date();
  // Upsert: the record may have been cleared while this attempt was compared (a login that succeeded).
  const doc = await upsertOne((upsert) =>
    Throttle.findOneAndUpdate(
      { key },
      {
        $inc: { failures: 1, windowFailures: 1 },
        $set: { lastFailureAt: now, lastAttemptAt: now },
        $setOnInsert: { lockouts: 0, left: policy.maxFailures - 1 },
      },
      { upsert, new: true },
    ).lean(),
  );
  const failures = doc?.failures ?? 1;
  const delayMs = Math.min(3000, 100 * 2 ** Math.min(failures - 1, 5));
  if ((doc?.windowFailures ?? 1) < policy.maxFailures) return { failures, delayMs };
  // This failure fills the window. Conditional, so only one of failures settling together locks;
  // the longest lockout holds until the real length is known.
  const provisional = new Date(now.getTime() + policy.lockoutMaxMs);
  const locked = await Throttle.findOneAndUpdate(
    { key, windowFailures: { $gte: policy.maxFailures } },
    { $set: { windowFailures: 0, left: 0, lockedUntil: provisional, locked: true }, $inc: { lockouts: 1 } },
    { new: true },
  ).lean();
  if (!locked) return { failures, delayMs };
  const lockedUntil = new Date(now.getTime() + Math.min(policy.lockoutMaxMs, policy.lockoutStepMs * locked.lockouts));
  await Throttle.updateOne({ key, lockedUntil: provisional }, { $set: { lockedUntil } });
  return { failures, lockedUntil, delayMs };
}

/** Settles a reserved attempt that did not fail and should not wipe the key's failures (a client address). */
export async function release(key: string, policy: ThrottlePolicy): Promise<void> {
  await queued(key, () =>
    Throttle.updateOne(
      { key, left: { $lt: policy.maxFailures }, lockedUntil: { $exists: false } },
      { $inc: { left: 1 } },
    ),
  );
}

/** Forgets the failures of a key (a successful login, or an admin's unlock). */
export async function clear(key: string): Promise<void> {
  await queued(key, () => Throttle.deleteOne({ key }));
}

/** The lockout of a key, if one is in force. */
export async function lockedUntil(key: string): Promise<Date | undefined> {
  const doc = await Throttle.findOne({ key, lockedUntil: { $gt: new Date() } }, { lockedUntil: 1 }).lean();
  return doc?.lockedUntil ?? undefined;
}

/**
 * Every lockout in force whose key starts with `prefix`, by key: one look-up however many keys a
 * page shows. Marks that outlived their lockout (a key nobody tried again) are taken away here,
 * so the look-up reads only what is locked now and lately.
 */
export async function lockoutsInForce(prefix: string): Promise<Map<string, Date>> {
  const now = new Date();
  const marked = await Throttle.find({ locked: true }, { _id: 0, key: 1, lockedUntil: 1 }).lean();
  const inForce = new Map<string, Date>();
  const outlived: string[] = [];
  for (const doc of marked) {
    if (doc.lockedUntil && doc.lockedUntil > now) {
      if (doc.key.startsWith(prefix)) inForce.set(doc.key, doc.lockedUntil);
    } else outlived.push(doc.key);
  }
  // In each key's queue: a failure may be locking the key again right now.
  for (const key of outlived) {
    await queued(key, () => Throttle.updateOne({ key, lockedUntil: { $lte: now } }, { $unset: { locked: 1 } }));
  }
  return inForce;
}

/** Creates the throttle collection's indexes and marks the lockouts recorded before the mark existed. */
export async function init(): Promise<void> {
  await Throttle.createIndexes();
  await runOnce('2026-12-throttle-locked-mark', () =>
    Throttle.updateMany({ lockedUntil: { $gt: new Date() } }, { $set: { locked: true } }),
  );
}
