/**
 * The depot list, a page at a time, for fleets of 10,000 depots. Every active depot is in memory
 * (the runtime holds its name, company and live state), so the list sorts and pages those there
 * and asks the database only for the disabled ones, by an equality the embedded database answers
 * from its index. On FerretDB every query it cannot push down reads the whole collection: a page by
 * `find().sort().skip().limit()` with its count took 1.8 s at 10,000 depots, and even
 * `estimatedDocumentCount` or `_id: {$in: 100 ids}` took 1.5 s each.
 */
import type { DepotRole, DepotView } from '@kis/protocol/api';
import { Depot, type DepotDoc } from './model.js';
import type { DepotMeta, DepotRuntime } from './runtime.js';
import type { Visibility } from './visibility.js';

/** What a list row needs of a depot document (its keys and replay state stay in the database). */
export const LIST_FIELDS = {
  depotId: 1,
  name: 1,
  location: 1,
  organizationId: 1,
  compartments: 1,
  heartbeatSeconds: 1,
  status: 1,
  live: 1,
} as const;

/** One row before its page is cut: sorted by name, then id, as the database would. */
interface Row {
  depotId: string;
  name: string;
  view: (role: DepotRole) => DepotView | undefined;
  organizationId: string | null;
}

function matcher(q: string | undefined): (depotId: string, meta: Pick<DepotMeta, 'name' | 'location'>) => boolean {
  if (!q) return () => true;
  const needle = q.toLocaleLowerCase('de');
  return (depotId, meta) =>
    depotId.includes(needle) ||
    meta.name.toLocaleLowerCase('de').includes(needle) ||
    meta.location.toLocaleLowerCase('de').includes(needle);
}

/** Where the list finds depots, and whom it lists them for. */
export interface ListSource {
  runtime: DepotRuntime;
  visibility: Visibility;
  /** The view of a depot read from the database. */
  storedView: (doc: DepotDoc, role: DepotRole) => DepotView;
}

/** Every depot the caller sees that matches `q`, in list order. */
async function visibleRows(source: ListSource, q: string | undefined): Promise<Row[]> {
  const { runtime, visibility } = source;
  const matches = matcher(q);
  const rows: Row[] = [];
  for (const link of runtime.links.values()) {
    const ref = { depotId: link.depotId, organizationId: link.meta.organizationId };
    if (!visibility.sees(ref) || !matches(link.depotId, link.meta)) continue;
    const depotId = link.depotId;
    rows.push({
      depotId,
      name: link.meta.name,
      organizationId: link.meta.organizationId,
      view: (role) => {
        const live = runtime.view(depotId);
        return live && { ...live, role };
      },
    });
  }
  const disabled = (await Depot.find({ status: 'disabled' }, LIST_FIELDS).lean()) as DepotDoc[];
  for (const doc of disabled) {
    const meta = { name: doc.name, location: doc.location ?? '' };
    if (runtime.links.has(doc.depotId) || !visibility.sees(doc) || !matches(doc.depotId, meta)) continue;
    rows.push({
      depotId: doc.depotId,
      name: doc.name,
      organizationId: doc.organizationId ?? null,
      view: (role) => source.storedView(doc, role),
    });
  }
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.depotId < b.depotId ? -1 : 1));
}

function views(source: ListSource, rows: Row[]): DepotView[] {
  const out: DepotView[] = [];
  for (const row of rows) {
    const view = row.view(source.visibility.roleIn(row));
    if (view) out.push(view);
  }
  return out;
}

/** The depots a caller sees, one page, with how many there are in all. */
export async function depotPage(
  source: ListSource,
  /** `q`: text the name, place or id contains (any case). */
  query: { q?: string | undefined; page: number; pageSize: number },
): Promise<{ items: DepotView[]; total: number }> {
  const rows = await visibleRows(source, query.q);
  const start = (query.page - 1) * query.pageSize;
  return { items: views(source, rows.slice(start, start + query.pageSize)), total: rows.length };
}

/** Every depot the caller sees, in list order (a socket that watches them all). */
export async function allVisible(source: ListSource): Promise<DepotView[]> {
  return views(source, await visibleRows(source, undefined));
}
