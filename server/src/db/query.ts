/**
 * A case-insensitive "contains" filter for user-typed search text: the text is escaped, so a user
 * cannot send a regular expression (and none can take the database down with backtracking).
 */
export function containsText(text: string): RegExp {
  return new RegExp(escapeRegex(text), 'i');
}

/** A case-insensitive exact match (an e-mail address in any case), escaped like {@link containsText}. */
export function sameText(text: string): RegExp {
  return new RegExp(`^${escapeRegex(text)}$`, 'i');
}

/** Text with every regular-expression character escaped. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * True when a write failed only on duplicate keys (E11000), for one document or every document of a
 * bulk write: what an idempotent retry expects when the first attempt got through.
 */
export function isDuplicateKeyError(err: unknown): boolean {
  const writeErrors = (err as { writeErrors?: unknown }).writeErrors;
  const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : [];
  if (list.length === 0) return (err as { code?: number }).code === 11000;
  return list.every((e: { code?: number; err?: { code?: number } }) => (e.code ?? e.err?.code) === 11000);
}

/** True for the 24 lower-case hex digits of an ObjectId, as ids arrive from URLs. */
export function isObjectId(id: string): boolean {
  return /^[0-9a-f]{24}$/.test(id);
}

/**
 * Statements per update command (`bulkWrite` of updates). FerretDB 1.24 never answers update
 * commands of more: on SQLite 50 took 0.4 s and 100 did not finish in 3 minutes; on PostgreSQL 32
 * finish and 64 did not (3,000 history months, 2026-12-04; `npm run bench -- --only states` asks
 * again each run: 64 updates by `_id` among 10,000 depots, no answer within 60 s). MongoDB does not
 * care. Inserts have no such limit.
 */
export const MAX_UPDATE_STATEMENTS = 32;
