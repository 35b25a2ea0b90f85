/**
 * Search keys of a user's name and address: every run of three characters (trigram) of the
 * lower-cased text. FerretDB answers an equality on an indexed field from the index, but a
 * "contains" regular expression only by reading every user (227 ms at 1,000 users, measured), so a
 * search first narrows to the users that carry one of its trigrams (user-search-keys.ts) and then
 * checks the full text.
 */

/** Characters a search needs before it can use the keys; shorter ones read every user. */
export const GRAM_LENGTH = 3;

/** The text as searches compare it: NFC, lower-cased, trimmed. */
export function searchable(text: string): string {
  return text.normalize('NFC').toLowerCase().trim();
}

/**
 * The distinct trigrams of a text, in order of first appearance.
 *
 * @example
 * searchGrams('Anna Groß') // ['ann', 'nna', 'na ', 'a g', ' gr', 'gro', 'roß']
 */
export function searchGrams(text: string): string[] {
  const chars = [...searchable(text)];
  const grams = new Set<string>();
  for (let i = 0; i + GRAM_LENGTH <= chars.length; i += 1) grams.add(chars.slice(i, i + GRAM_LENGTH).join(''));
  return [...grams];
}
