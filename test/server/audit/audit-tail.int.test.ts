import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEntry } from '../../../server/src/audit/model.js';
import { chainEntry, list, record, verifyChain } from '../../../server/src/audit/service.js';
import { connectDatabase, disconnectDatabase } from '../../../server/src/db/connection.js';
import { testDatabaseUri } from '../../helpers/server.js';

beforeAll(async () => {
  await connectDatabase(testDatabaseUri());
  await AuditEntry.createIndexes();
});
afterAll(async () => {
  await disconnectDatabase();
});

async function seqs(): Promise<number[]> {
  return (await AuditEntry.find({}, { seq: 1 }).sort({ seq: 1 }).lean()).map((e) => e.seq);
}

async function tail(): Promise<{ seq: number; hash: string }> {
  const last = await AuditEntry.findOne({}, { seq: 1, hash: 1 }).sort({ seq: -1 }).lean();
  if (!last) throw new Error('empty log');
  return last;
}

describe('appending to the audit chain', () => {
  it('continues after entries another process appended, and after the log was replaced', async () => {
    for (let i = 0; i < 5; i++) await record({ action: 'login', outcome: 'success', actorId: `u${i}` });
    expect(await seqs()).toEqual([1, 2, 3, 4, 5]);

    // Another KIS process (the CLI, say) appends two entries this one has not seen.
    let other = await tail();
    for (let i = 0; i < 2; i++) {
      other = chainEntry({ action: 'depot.added', outcome: 'success' }, other);
      await AuditEntry.create(other);
    }
    await record({ action: 'logout', outcome: 'success' });
    expect(await seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await verifyChain()).toMatchObject({ ok: true, entries: 8 });

    // A restore puts back an older, shorter log: the next entry follows it, without a gap.
    await AuditEntry.deleteMany({});
    let restored: ReturnType<typeof chainEntry> | undefined;
    for (let i = 0; i < 3; i++) {
      restored = chainEntry({ action: 'login', outcome: 'failure' }, restored);
      await AuditEntry.create(restored);
    }
    await record({ action: 'backup.restored', outcome: 'success' });
    expect(await seqs()).toEqual([1, 2, 3, 4]);
    expect(await verifyChain()).toMatchObject({ ok: true, entries: 4 });
  });

  it('finds the end of a long log it has never seen, and appends concurrently without gaps', async () => {
    await AuditEntry.deleteMany({});
    let last: ReturnType<typeof chainEntry> | undefined;
    const entries = [];
    for (let i = 0; i < 1000; i++) {
      last = chainEntry({ action: 'login', outcome: 'success' }, last);
      entries.push(last);
    }
    // The older entries as KIS wrote them before page blocks: read one by one, the newer by block.
    await AuditEntry.collection.insertMany(
      entries.map(({ block, ...entry }) => (entry.seq <= 995 ? entry : { ...entry, block })),
    );
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => record({ action: 'login', outcome: 'failure', actorId: `c${i}` })),
    );
    expect((await seqs()).slice(-11)).toEqual(Array.from({ length: 11 }, (_, i) => 1000 + i));
    expect(await verifyChain()).toMatchObject({ ok: true, entries: 1010 });

    // The page as it opens: newest first, the total, and pages down to the first entry.
    const admin = { role: 'admin' };
    const first = await list(admin, { page: 1, pageSize: 3 });
    expect(first.total).toBe(1010);
    expect(first.items.map((e) => e.seq)).toEqual([1010, 1009, 1008]);
    expect(first.items[0]).toMatchObject({ action: 'login', outcome: 'failure' });
    expect((await list(admin, { page: 337, pageSize: 3 })).items.map((e) => e.seq)).toEqual([2, 1]);
    expect((await list(admin, { page: 338, pageSize: 3 })).items).toEqual([]);
    const across = await list(admin, { page: 2, pageSize: 10 });
    expect(across.items.map((e) => e.seq)).toEqual([1000, 999, 998, 997, 996, 995, 994, 993, 992, 991]);
    expect((await list(admin, { page: 11, pageSize: 100 })).items.map((e) => e.seq)).toEqual(
      Array.from({ length: 10 }, (_, i) => 10 - i),
    );
    // A filtered page still answers from the same log.
    const failures = await list(admin, { outcome: 'failure', page: 1, pageSize: 50 });
    expect(failures.total).toBe(10);
  });
});
