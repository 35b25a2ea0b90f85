import { containsText } from '../db/query.js';
import { runOnce } from '../db/migrations.js';
import { GRAM_LENGTH, searchable, searchGrams } from './search-grams.js';
import { User, type UserDoc } from './user-model.js';
import { addKeys, rekeyUsers, UserSearchKey, type SearchableUser } from './user-search-keys.js';

/** Users whose keys are written at once while the keys of existing users are built. */
const BUILD_BATCH = 500;

/**
 * One page of the users whose name or address contains `q` (case-insensitive), newest first, and
 * how many there are. A search of three characters or more reads the search keys of its
 * rarest-looking trigram (one index look-up), checks the whole text on those, orders and pages them
 * there, and then reads only the page's users; a shorter one reads every user.
 */
export async function searchUsers(
  q: string,
  page: number,
  pageSize: number,
): Promise<{ docs: UserDoc[]; total: number }> {
  const needle = searchable(q);
  if ([...needle].length < GRAM_LENGTH) return scanUsers(needle, page, pageSize);
  const keys = await UserSearchKey.find(
    { g: rarestGram(searchGrams(needle)) },
    { _id: 0, u: 1, c: 1, n: 1, e: 1 },
  ).lean();
  const found = new Map<string, number>();
  for (const key of keys) if (key.n.includes(needle) || key.e.includes(needle)) found.set(key.u, key.c.getTime());
  const ordered = [...found].sort(([idA, a], [idB, b]) => b - a || idB.localeCompare(idA)).map(([id]) => id);
  const pageIds = ordered.slice((page - 1) * pageSize, page * pageSize);
  const users = await Promise.all(pageIds.map((id) => User.findById(id).lean<UserDoc>()));
  // Keys a crashed write left behind are mended here, and the user they named is left out.
  const stale = pageIds.flatMap((id, i) => {
    const user = users[i];
    return user && (searchable(user.name ?? '').includes(needle) || user.emailLower.includes(needle))
      ? []
      : [{ id, user }];
  });
  if (stale.length) await rekeyUsers(stale.map(({ id, user }) => ({ id, user: user ?? null })));
  const staleIds = new Set(stale.map(({ id }) => id));
  return {
    docs: users.filter((user, i): user is UserDoc => !!user && !staleIds.has(pageIds[i] as string)),
    total: ordered.length - stale.length,
  };
}

/**
 * Characters from the most to the least common in names and addresses (German and English letter
 * frequencies; the separators of every address first). A trigram of rare characters is carried by
 * few users. Measured on FerretDB: counting the users of each trigram first cost as much as
 * reading them (about 1 ms a user), so the choice is made by the characters alone.
 */
const COMMON_FIRST = ' .@-enisratdhulcgmobwfkzp0123456789vjyx_+qäöüß';

/**
 * Trigrams that are common although their characters are not: German spelling (`sch` is in
 * Schneider, Schmidt, Schulz, Fischer …; in the volume benchmark it stood for 2,800 users where the
 * name's other trigrams stood for 400) and the parts of addresses. Taken only when nothing else is.
 */
// prettier-ignore
const COMMON_GRAMS = new Set([
  'sch', 'chr', 'cht', 'che', 'ich', 'ach', 'ein', 'ung', 'gen', 'der', 'die', 'und', 'ter', 'ver', 'ste', 'ier',
  'ers', 'hen', 'ren', 'ber', 'the', 'ing', 'ion', 'com', '.de', '.co', 'ail', 'mai', 'gma', 'nfo', 'inf',
]);

/** The trigram of the search made of the rarest characters, avoiding the common ones. */
export function rarestGram(grams: string[]): string {
  const weight = (ch: string): number => {
    const rank = COMMON_FIRST.indexOf(ch);
    return rank < 0 ? 0 : COMMON_FIRST.length - rank;
  };
  let best = grams[0] as string;
  let bestScore = Infinity;
  for (const gram of grams) {
    const score = [...gram].reduce((sum, ch) => sum + weight(ch), COMMON_GRAMS.has(gram) ? 1000 : 0);
    if (score < bestScore) [best, bestScore] = [gram, score];
  }
  return best;
}

/** A search too short for the keys: every user's name and address is read. */
async function scanUsers(needle: string, page: number, pageSize: number): Promise<{ docs: UserDoc[]; total: number }> {
  const filter = needle ? { $or: [{ emailLower: containsText(needle) }, { name: containsText(needle) }] } : {};
  const [docs, total] = await Promise.all([
    User.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((page - 1) * pageSize)
      .limit(pageSize)
      .lean(),
    User.countDocuments(filter),
  ]);
  return { docs: docs as UserDoc[], total };
}

/**
 * Gives users written before the search keys existed theirs, once per database, and takes away
 * the keys an earlier version kept inside the user documents, by inserts and one update command
 * (FerretDB 1.24 never answers update commands of more than a few dozen statements: db/query.ts).
 */
export async function buildSearchKeys(): Promise<void> {
  await runOnce('2026-12-user-search-keys', async () => {
    await UserSearchKey.deleteMany({});
    const users = await User.find({}, { name: 1, emailLower: 1, createdAt: 1 }).lean<SearchableUser[]>();
    for (let i = 0; i < users.length; i += BUILD_BATCH) await addKeys(users.slice(i, i + BUILD_BATCH));
    await User.collection.updateMany({ nameGrams: { $exists: true } }, { $unset: { nameGrams: 1, emailGrams: 1 } });
    for (const index of await User.collection.indexes())
      if (index.name === 'nameGrams_1' || index.name === 'emailGrams_1') await User.collection.dropIndex(index.name);
  });
}
