import type { AnyBulkWriteOperation } from 'mongodb';
import { containsText } from '../db/query.js';
import { runOnce } from '../db/migrations.js';
import { GRAM_LENGTH, searchable, searchGrams } from './search-grams.js';
import { User, type UserDoc } from './user-model.js';

/** Users per write while the keys of existing users are filled in. */
const BACKFILL_BATCH = 500;

/**
 * One page of the users whose name or address contains `q` (case-insensitive), newest first, and
 * how many there are. A search of three characters or more reads only the users carrying its
 * rarest-looking trigram (two index look-ups, name and address) and checks the whole text on those; a
 * shorter one reads every user. The candidates of a trigram are a small share of the users, so
 * they are sorted and paged here.
 */
export async function searchUsers(
  q: string,
  page: number,
  pageSize: number,
): Promise<{ docs: UserDoc[]; total: number }> {
  const needle = searchable(q);
  if ([...needle].length < GRAM_LENGTH) return scanUsers(needle, page, pageSize);
  const gram = rarestGram(searchGrams(needle));
  const [byName, byEmail] = await Promise.all([
    User.find({ nameGrams: gram }).lean(),
    User.find({ emailGrams: gram }).lean(),
  ]);
  const found = new Map<string, UserDoc>();
  for (const doc of [...byName, ...byEmail] as UserDoc[])
    if (searchable(doc.name ?? '').includes(needle) || doc.emailLower.includes(needle)) found.set(String(doc._id), doc);
  const sorted = [...found.values()].sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || String(b._id).localeCompare(String(a._id)),
  );
  return { docs: sorted.slice((page - 1) * pageSize, page * pageSize), total: sorted.length };
}

/**
 * Characters from the most to the least common in names and addresses (German and English letter
 * frequencies; the separators of every address first). A trigram of rare characters is carried by
 * few users. Measured on FerretDB: counting the users of each trigram first cost as much as
 * reading them (about 1 ms a user), so the choice is made by the characters alone.
 */
const COMMON_FIRST = ' .@-enisratdhulcgmobwfkzp0123456789vjyx_+qäöüß';

/** The trigram of the search made of the rarest characters. */
function rarestGram(grams: string[]): string {
  const weight = (ch: string): number => {
    const rank = COMMON_FIRST.indexOf(ch);
    return rank < 0 ? 0 : COMMON_FIRST.length - rank;
  };
  let best = grams[0] as string;
  let bestScore = Infinity;
  for (const gram of grams) {
    const score = [...gram].reduce((sum, ch) => sum + weight(ch), 0);
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

/** Gives users written before the search keys existed theirs, once per database. */
export async function backfillSearchGrams(): Promise<void> {
  await runOnce('2026-12-user-search-grams', async () => {
    let batch: AnyBulkWriteOperation[] = [];
    for await (const doc of User.find({}, { name: 1, emailLower: 1 }).lean().cursor()) {
      batch.push({
        updateOne: {
          filter: { _id: doc._id },
          update: { $set: { nameGrams: searchGrams(doc.name ?? ''), emailGrams: searchGrams(doc.emailLower) } },
        },
      });
      if (batch.length >= BACKFILL_BATCH) {
        await User.collection.bulkWrite(batch, { ordered: false });
        batch = [];
      }
    }
    if (batch.length) await User.collection.bulkWrite(batch, { ordered: false });
  });
}
