/**
 * History exports: the rows of one depot's history, and of many depots' one after another, read
 * from the database as the download consumes them. Access is the caller's business (service.ts);
 * this file only reads.
 */
import { HISTORY_KIND_LABELS, HISTORY_SOURCE_LABELS } from '@kis/protocol/api';
import type * as reports from '../reports/service.js';
import { DepotPin, type HistoryDoc } from './model.js';
import type { HistoryFilters } from './history-query.js';
import { entriesOldestFirst, type HistoryOwner } from './history-read.js';

/** One history entry as an export writes it. */
export interface HistoryRow extends Record<string, unknown> {
  at: Date;
  /** In the reader's words, as the depot page shows them (not the stored codes). */
  source: reports.Bilingual;
  kind: reports.Bilingual;
  comp: number | null;
  pin: string;
  person: string;
  info: string;
}

/** One entry of the fleet's history: the depot's entry with the depot it belongs to. */
export interface FleetHistoryRow extends HistoryRow {
  depotName: string;
  depotId: string;
}

/** The columns of a depot's history export. */
export const HISTORY_COLUMNS: ReadonlyArray<reports.TableColumn<HistoryRow>> = [
  { key: 'at', header: { de: 'Zeit', en: 'Time' }, width: 15 },
  { key: 'source', header: { de: 'Quelle', en: 'Source' }, width: 7 },
  { key: 'kind', header: { de: 'Ereignis', en: 'Event' }, width: 13 },
  { key: 'comp', header: { de: 'Fach', en: 'Comp.' }, width: 5 },
  { key: 'pin', header: { de: 'PIN für', en: 'PIN for' }, width: 15 },
  { key: 'person', header: { de: 'Person', en: 'Person' }, width: 15 },
  { key: 'info', header: { de: 'Info', en: 'Info' }, width: 30 },
];

/**
 * The columns of the fleet's history export: the depot first, then a depot's columns, in the
 * order of the rows (by depot name and id, then by time).
 */
export const FLEET_HISTORY_COLUMNS: ReadonlyArray<reports.TableColumn<FleetHistoryRow>> = [
  { key: 'depotName', header: { de: 'Depot', en: 'Depot' }, width: 14 },
  { key: 'depotId', header: { de: 'Depot-ID', en: 'Depot ID' }, width: 12 },
  ...(HISTORY_COLUMNS as ReadonlyArray<reports.TableColumn<FleetHistoryRow>>),
];

/** A history entry's kind in both languages, as the depot page names it. */
export function kindLabel(kind: string): reports.Bilingual {
  // Own keys only: a kind from a query string may be `constructor`.
  const label = (labels: Readonly<Record<string, string>>): string =>
    (Object.hasOwn(labels, kind) ? labels[kind] : undefined) ?? kind;
  return { de: label(HISTORY_KIND_LABELS.de), en: label(HISTORY_KIND_LABELS.en) };
}

function sourceLabel(source: string): reports.Bilingual {
  const de: Readonly<Record<string, string>> = HISTORY_SOURCE_LABELS.de;
  const en: Readonly<Record<string, string>> = HISTORY_SOURCE_LABELS.en;
  return {
    de: (Object.hasOwn(de, source) ? de[source] : undefined) ?? source,
    en: (Object.hasOwn(en, source) ? en[source] : undefined) ?? source,
  };
}

/** Rows read from the database per round trip while exporting. */
const EXPORT_BATCH = 1000;

/**
 * A depot's history entries for an export, oldest first. Rows are read from a cursor in batches as
 * the reader asks for them (nothing is counted or read ahead), PIN labels looked up per batch and
 * only among this depot's PINs; the cursor is closed when the reader stops early.
 */
export async function* depotHistoryRows(owner: HistoryOwner, filters: HistoryFilters): AsyncGenerator<HistoryRow> {
  const { depotId } = owner;
  const labels = new Map<string, string>();
  const entries = entriesOldestFirst(owner, filters, EXPORT_BATCH);
  try {
    let batch: HistoryDoc[] = [];
    const flush = async function* (): AsyncGenerator<HistoryRow> {
      const unknown = [...new Set(batch.flatMap((d) => (d.pinId && !labels.has(d.pinId) ? [d.pinId] : [])))];
      if (unknown.length) {
        for (const p of await DepotPin.find({ _id: { $in: unknown }, depotId }, { label: 1 }).lean())
          labels.set(p._id, p.label);
      }
      for (const d of batch) {
        yield {
          at: d.at,
          source: sourceLabel(d.source),
          kind: kindLabel(d.kind),
          comp: d.comp ?? null,
          pin: d.pinId ? (labels.get(d.pinId) ?? d.pinId) : '',
          person: d.userName ?? '',
          info: d.info ?? '',
        };
      }
      batch = [];
    };
    for await (const d of entries) {
      batch.push(d);
      if (batch.length >= EXPORT_BATCH) yield* flush();
    }
    yield* flush();
  } finally {
    await entries.return(undefined);
  }
}

/**
 * The history of several depots, one depot after another in the order given, each oldest first.
 * Each depot is its own query on its id (so each can use the history's index), and only one
 * depot's cursor is open at a time: memory stays flat however many depots and rows there are.
 */
export async function* fleetHistoryRows(
  depots: ReadonlyArray<HistoryOwner & { name: string }>,
  filters: HistoryFilters,
): AsyncGenerator<FleetHistoryRow> {
  for (const depot of depots) {
    for await (const row of depotHistoryRows(depot, filters)) {
      yield { depotName: depot.name, depotId: depot.depotId, ...row };
    }
  }
}
