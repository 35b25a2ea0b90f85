import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { registerDepot } from '../../helpers/depots.js';
import { startServer, type TestServer } from '../../helpers/server.js';

interface HistoryPage {
  items: Array<{ id: string; kind: string; at: string; info: string | null }>;
  nextCursor: string | null;
}

const servers: TestServer[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const DAY = 86_400_000;

/** Every page of a depot's history, following the cursors. */
async function allPages(client: ApiClient, depotId: string, query: string): Promise<HistoryPage['items']> {
  const items: HistoryPage['items'] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: HistoryPage } = await client.get<HistoryPage>(
      `/api/depots/${depotId}/history?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(res.status).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

describe('a depot history read a month at a time', () => {
  it('gives entries of before the months their month at start, and pages through all months in order', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-months-'));
    dirs.push(dataDir);
    const first = await startServer({ dataDir });
    servers.push(first);
    const admin = await createFirstAdmin(first);
    const { depot } = await registerDepot(admin, { name: 'Depot Altbestand' });
    expect((await admin.post(`/api/depots/${depot.depotId}/history`, { kind: 'note', text: 'heute' })).status).toBe(
      200,
    );

    // Entries as the code before the months wrote them: no depotMonth, and older than the depot
    // itself (imported), spread over 14 months with empty months between.
    const now = Date.now();
    const old = [400, 300, 299, 120, 95, 40].map((days, i) => ({
      _id: `${depot.depotId}:old${i}`,
      depotId: depot.depotId,
      at: new Date(now - days * DAY),
      source: 'user',
      kind: i % 2 ? 'note' : 'handover',
      info: `vor ${days} Tagen`,
    }));
    const client = new MongoClient(first.mongoUri);
    try {
      await client.db().collection<{ _id: string }>('depot_history').insertMany(old);
      // And an imported depot's many: more than one update command holds (FerretDB never answered 64).
      const many = Array.from({ length: 700 }, (_, i) => ({
        _id: `import:${i}`,
        depotId: 'import',
        at: new Date(now - (i + 1) * 3_600_000),
        source: 'user',
        kind: 'note',
      }));
      await client.db().collection<{ _id: string }>('depot_history').insertMany(many);
      // A database from before the months: the migration has not run there.
      await client.db().collection<{ _id: string }>('schema_migrations').deleteOne({ _id: '2026-12-history-months' });
    } finally {
      await client.close();
    }
    expect(await first.stop()).toBe(0);

    const second = await startServer({ dataDir, env: { MONGODB_URI: first.mongoUri } });
    servers.push(second);
    const again = new ApiClient(second, '198.51.100.1');
    expect((await again.login('admin@kis.test', GOOD_PASSWORD)).status).toBe(200);

    // Two to a page: the cursor crosses months, and empty months between are skipped.
    const items = await allPages(again, depot.depotId, 'pageSize=2');
    expect(items.map((e) => e.info)).toEqual([
      'heute',
      'vor 40 Tagen',
      'vor 95 Tagen',
      'vor 120 Tagen',
      'vor 299 Tagen',
      'vor 300 Tagen',
      'vor 400 Tagen',
    ]);
    const check = new MongoClient(first.mongoUri);
    try {
      const history = check.db().collection('depot_history');
      expect(await history.countDocuments({ depotId: 'import', depotMonth: { $exists: true } })).toBe(700);
    } finally {
      await check.close();
    }
    const times = items.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // A range and a kind: only what lies in it, from the months it covers.
    const from = new Date(now - 310 * DAY).toISOString();
    const to = new Date(now - 100 * DAY).toISOString();
    const ranged = await allPages(again, depot.depotId, `from=${from}&to=${to}&kind=note&pageSize=1`);
    expect(ranged.map((e) => e.info)).toEqual(['vor 120 Tagen', 'vor 300 Tagen']);

    // The export reads the same months, oldest first.
    const csv = await fetch(`${second.url}/api/depots/${depot.depotId}/history/export?format=csv`, {
      headers: { cookie: again.cookie ?? '', 'x-forwarded-for': again.ip },
    });
    expect(csv.status).toBe(200);
    const text = await csv.text();
    const order = ['vor 400 Tagen', 'vor 300 Tagen', 'vor 40 Tagen', 'heute'].map((s) => text.indexOf(s));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});
