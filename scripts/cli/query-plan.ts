import { escapeRegex } from '../../server/src/db/query.js';

/**
 * Reads an `explain` answer of MongoDB or FerretDB 1.x and says whether the query uses an index.
 *
 * The three shapes, as the servers answer them:
 * - MongoDB: `queryPlanner.winningPlan`, a tree of `stage`s through `inputStage`/`inputStages`
 *   (under `winningPlan.queryPlan` for the slot-based engine); an index shows as IXSCAN, IDHACK or,
 *   from 8.0, an EXPRESS_* stage.
 * - FerretDB on PostgreSQL: `queryPlanner.Plan`, PostgreSQL's EXPLAIN JSON (`Node Type`, `Plans`).
 * - FerretDB on SQLite: `queryPlanner.Plan`, the lines of SQLite's EXPLAIN QUERY PLAN
 *   (`id=2 parent=0 notused=0 detail=SCAN depot_history_010ee20e`).
 * FerretDB also says which parts of the query it handed to its backend (`filterPushdown` and so on);
 * what is not handed down, FerretDB does itself over every document it reads.
 */

/** The backend under FerretDB, as its explain shows it. */
export type PlanBackend = 'mongodb' | 'postgresql' | 'sqlite';

/** What an explain says about one query. */
export interface PlanSummary {
  /** True when the plan reads an index instead of the whole collection. */
  index: boolean;
  /** The plan in one line: `LIMIT > FETCH > IXSCAN depotId_1_at_-1`, `Seq Scan on depot_history`. */
  plan: string;
  /** Whose plan it is; undefined when the shape was not recognised (or the collection is missing). */
  backend?: PlanBackend;
  /** FerretDB only: which parts of the query its backend runs (the rest FerretDB runs itself). */
  pushdown?: { filter: boolean; sort: boolean; limit: boolean };
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** MongoDB stages that read an index rather than the collection. */
const MONGODB_INDEX_STAGES: ReadonlySet<string> = new Set([
  'IXSCAN',
  'IDHACK',
  'COUNT_SCAN',
  'DISTINCT_SCAN',
  'EXPRESS_IXSCAN',
  'EXPRESS_CLUSTERED_IXSCAN',
]);

/** PostgreSQL plan nodes that read an index. */
const POSTGRESQL_INDEX_NODES: ReadonlySet<string> = new Set(['Index Scan', 'Index Only Scan', 'Bitmap Index Scan']);

/** FerretDB names a collection's table `<collection>_<8 hex digits>`; the collection's name reads better. */
function tableToCollection(text: string, collection: string | undefined): string {
  if (!collection) return text;
  return text.replace(new RegExp(`(?<![\\w])${escapeRegex(collection)}_[0-9a-f]{8}(?![0-9a-f])`, 'g'), collection);
}

function mongodbSummary(winningPlan: Json): PlanSummary {
  const root = isObject(winningPlan.queryPlan) ? winningPlan.queryPlan : winningPlan;
  const parts: string[] = [];
  let index = false;
  let collscan = false;
  // Depth first along the first input; an OR's several inputs are listed in brackets.
  const describe = (node: Json): string => {
    const stage = typeof node.stage === 'string' ? node.stage : '?';
    if (MONGODB_INDEX_STAGES.has(stage)) index = true;
    if (stage === 'COLLSCAN') collscan = true;
    const name = typeof node.indexName === 'string' ? ` ${node.indexName}` : '';
    return `${stage}${name}`;
  };
  let node: Json | undefined = root;
  while (node) {
    parts.push(describe(node));
    if (Array.isArray(node.inputStages)) {
      const inputs = node.inputStages.filter(isObject);
      const described = inputs.map((input) => {
        const chain: string[] = [];
        for (let n: Json | undefined = input; n; n = isObject(n.inputStage) ? n.inputStage : undefined)
          chain.push(describe(n));
        return chain.join(' > ');
      });
      parts.push(`[${described.join(' | ')}]`);
      break;
    }
    node = isObject(node.inputStage) ? node.inputStage : undefined;
  }
  const plan = parts.join(' > ');
  // An EOF plan reads nothing: MongoDB answers so for a collection that does not exist.
  return { index: index && !collscan, plan, backend: 'mongodb' };
}

function postgresqlSummary(root: Json, collection: string | undefined): PlanSummary {
  const scans: string[] = [];
  let index = false;
  const visit = (node: Json): void => {
    const type = typeof node['Node Type'] === 'string' ? node['Node Type'] : '?';
    if (POSTGRESQL_INDEX_NODES.has(type)) index = true;
    if (type.endsWith('Scan')) {
      const on = node['Index Name'] ?? node['Relation Name'];
      scans.push(typeof on === 'string' ? `${type} on ${tableToCollection(on, collection)}` : type);
    }
    if (Array.isArray(node.Plans)) for (const child of node.Plans) if (isObject(child)) visit(child);
  };
  visit(root);
  const top = typeof root['Node Type'] === 'string' ? root['Node Type'] : '?';
  const plan = scans.length === 0 ? top : scans.join(', ');
  return { index, plan, backend: 'postgresql' };
}

function sqliteSummary(lines: string[], collection: string | undefined): PlanSummary {
  const details = lines.map((line) => tableToCollection(/detail=(.*)$/.exec(line)?.[1] ?? line, collection));
  // SQLite says SEARCH … USING INDEX when it seeks; a SCAN … USING COVERING INDEX still reads the
  // whole index, so only a seek counts.
  const index = details.some((d) => /^SEARCH\b/.test(d) && /USING (COVERING )?INDEX|PRIMARY KEY/.test(d));
  return { index, plan: details.join('; '), backend: 'sqlite' };
}

/**
 * Summarises an explain answer (verbosity `queryPlanner`).
 *
 * @param collection the explained collection, to show FerretDB's table names as the collection's.
 * @example
 * summarizePlan(await collection.find({ depotId }).sort({ at: -1 }).limit(50).explain('queryPlanner'))
 * // MongoDB: { index: true, plan: 'LIMIT > FETCH > IXSCAN depotId_1_at_-1', backend: 'mongodb' }
 */
export function summarizePlan(explain: unknown, collection?: string): PlanSummary {
  const answer = isObject(explain) ? explain : {};
  const planner = isObject(answer.queryPlanner) ? answer.queryPlanner : {};
  const pushdown =
    typeof answer.filterPushdown === 'boolean'
      ? {
          pushdown: {
            filter: answer.filterPushdown,
            sort: answer.sortPushdown === true,
            limit: answer.limitPushdown === true,
          },
        }
      : {};
  let summary: PlanSummary;
  if (isObject(planner.winningPlan)) summary = mongodbSummary(planner.winningPlan);
  else if (isObject(planner.Plan)) summary = postgresqlSummary(planner.Plan, collection);
  else if (Array.isArray(planner.Plan) && isObject(planner.Plan[0]) && isObject(planner.Plan[0].Plan))
    summary = postgresqlSummary(planner.Plan[0].Plan, collection);
  else if (
    Array.isArray(planner.Plan) &&
    planner.Plan.length > 0 &&
    planner.Plan.every((line) => typeof line === 'string')
  )
    summary = sqliteSummary(planner.Plan as string[], collection);
  else summary = { index: false, plan: Object.keys(planner).length === 0 ? 'no plan' : 'unrecognised plan' };
  return { ...summary, ...pushdown };
}
