/**
 * A case-insensitive "contains" filter for user-typed search text: the text is escaped, so a user
 * cannot send a regular expression (and none can take the database down with backtracking).
 */
export function containsText(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
}

/** True for the 24 lower-case hex digits of an ObjectId, as ids arrive from URLs. */
export function isObjectId(id: string): boolean {
  return /^[0-9a-f]{24}$/.test(id);
}
