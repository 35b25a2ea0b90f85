import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryEntryView } from '@kis/protocol/api';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { download } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { startServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: ApiClient;
let depotId: string;
/** Every entry of the depot, newest first, as the timeline shows them unfiltered. */
let all: HistoryEntryView[];

beforeAll(async () => {
  server = await startServer();
  admin = await createFirstAdmin(server);
  depotId = (await registerDepot(admin, { name: 'Filterlager', compartments: 4 })).depot.depotId;
  // Five at a time, so that some share a millisecond: the timeline's order among them is by id.
  for (let i = 0; i < 40; i += 5) {
    await Promise.all(
      [1, 2, 3, 4, 5].map(async (j) => {
        const n = i + j;
        const res = await admin.post(`/api/depots/${depotId}/history`, {
          kind: n % 3 ? 'note' : 'handover',
          comp: (n % 4) + 1,
          text: `Eintrag ${n}`,
        });
        expect(res.status).toBe(200);
      }),
    );
  }
  all = await timeline({}, 200);
});
afterAll(async () => {
  await server?.stop();
});

type Filters = { from?: string; to?: string; kind?: string; comp?: string };

/** The timeline with filters, every page followed by its cursor. */
async function timeline(filters: Filters, pageSize: number): Promise<HistoryEntryView[]> {
  const items: HistoryEntryView[] = [];
  let cursor: string | null = null;
  do {
    const query: URLSearchParams = new URLSearchParams({
      ...filters,
      pageSize: String(pageSize),
      ...(cursor ? { cursor } : {}),
    });
    const page: { body: { items: HistoryEntryView[]; nextCursor: string | null }; status: number } = await admin.get<{
      items: HistoryEntryView[];
      nextCursor: string | null;
    }>(`/api/depots/${depotId}/history?${query}`);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

/** The export's Info column with filters, oldest first. */
async function exported(filters: Filters): Promise<string[]> {
  const got = await download(admin, `/api/depots/${depotId}/history/export?format=csv&${new URLSearchParams(filters)}`);
  expect(got.status).toBe(200);
  return (parse(got.bytes, { bom: true, delimiter: ';', columns: true }) as Array<Record<string, string>>).map(
    (r) => r.Info ?? '',
  );
}

describe('history filters of the timeline and the export', () => {
  it('pages through the whole timeline, newest first, each entry once, also where entries share a time', () => {
    expect(all.filter((e) => e.info?.startsWith('Eintrag ')).length).toBe(40);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const order = [...all].sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1));
    expect(all.map((e) => e.id)).toEqual(order.map((e) => e.id));
  });

  it('gives the same entries in the timeline (small pages) and the export for every filter', async () => {
    const newest = all.filter((e) => e.info?.startsWith('Eintrag '));
    const from = newest[29]?.at ?? '';
    const to = newest[9]?.at ?? '';
    const cases: Array<{ filters: Filters; keep: (e: HistoryEntryView) => boolean }> = [
      { filters: {}, keep: () => true },
      { filters: { kind: 'handover' }, keep: (e) => e.kind === 'handover' },
      { filters: { comp: '3' }, keep: (e) => e.comp === 3 },
      { filters: { kind: 'note', comp: '2' }, keep: (e) => e.kind === 'note' && e.comp === 2 },
      { filters: { from, to }, keep: (e) => e.at >= from && e.at < to },
      { filters: { from }, keep: (e) => e.at >= from },
      { filters: { to, kind: 'note' }, keep: (e) => e.at < to && e.kind === 'note' },
    ];
    for (const { filters, keep } of cases) {
      const expected = all.filter(keep);
      expect(expected.length, JSON.stringify(filters)).toBeGreaterThan(0);
      const paged = await timeline(filters, 7);
      expect(
        paged.map((e) => e.id),
        JSON.stringify(filters),
      ).toEqual(expected.map((e) => e.id));
      expect(await exported(filters), JSON.stringify(filters)).toEqual(
        [...expected].reverse().map((e) => e.info ?? ''),
      );
    }
  });
});
