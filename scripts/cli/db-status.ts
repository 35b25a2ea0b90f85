import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { databaseName, redactUri } from '../../server/src/db/connection.js';
import type { Command } from './commands.js';
import { provisionFor } from './database.js';
import {
  collectionNames,
  collectionStatus,
  engineStatus,
  hotQueryStatus,
  type CollectionStatus,
  type EngineStatus,
  type HotQueryStatus,
} from './db-inspect.js';

/** What db:status prints (as JSON with --json). */
interface DbStatus {
  server: string;
  uri: string;
  database: string;
  reachable: boolean;
  version: string | null;
  dataDir: string | null;
  startedForThisCommand: boolean;
  engine: EngineStatus | null;
  collections: CollectionStatus[] | null;
  hotQueries: HotQueryStatus[] | null;
}

const MIB = 1024 * 1024;

function bytes(n: number): string {
  if (n >= MIB) return `${(n / MIB).toFixed(1)} MiB`;
  return n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`;
}

function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function engineLine(engine: EngineStatus): string {
  if (engine.product === 'MongoDB') return `MongoDB ${engine.version}`;
  const backend = engine.backend
    ? `${engine.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'} backend`
    : 'backend unknown';
  return `FerretDB ${engine.version} (${backend}, answers as MongoDB ${engine.compatibleWith ?? '?'})`;
}

function human(status: DbStatus): string {
  const lines = [
    `server:    ${status.server}${status.startedForThisCommand ? ' (started for this check, stopped again)' : ''}`,
    `uri:       ${status.uri}`,
    `database:  ${status.database}`,
    `reachable: ${status.reachable ? 'yes' : 'no'}${status.version ? ` (reports version ${status.version})` : ''}`,
    ...(status.engine ? [`engine:    ${engineLine(status.engine)}`] : []),
    ...(status.dataDir ? [`data:      ${status.dataDir}`] : []),
  ];
  if (status.collections?.length === 0) lines.push('', 'no collections yet');
  if (status.collections?.length) {
    const nf = new Intl.NumberFormat('en');
    lines.push(
      '',
      ...table(
        [
          ['collection', 'documents', 'storage', 'indexes'],
          ...status.collections.map((c) => [
            c.name,
            c.documents === null ? '?' : `${c.estimated ? '~' : ''}${nf.format(c.documents)}`,
            bytes(c.storageBytes),
            `${bytes(c.indexBytes)} (${c.indexes})`,
          ]),
        ],
        new Set([1, 2, 3]),
      ),
    );
  }
  if (status.hotQueries) {
    lines.push(
      '',
      ...table(
        [
          ['hot query', 'collection', 'index', 'plan'],
          ...status.hotQueries.map((q) => {
            const pushed = q.pushdown
              ? Object.entries(q.pushdown)
                  .filter(([, done]) => done)
                  .map(([part]) => part)
              : [];
            const pushdown = q.pushdown ? ` (pushed down: ${pushed.length ? pushed.join(', ') : 'nothing'})` : '';
            return [q.name, q.collection, q.index ? 'yes' : 'no', `${q.plan}${pushdown}`];
          }),
        ],
        new Set(),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `db:status`: which database server KIS uses, where, whether it answers, and how its hot queries run. */
export const dbStatus: Command = {
  name: 'db:status',
  summary: 'Show which database server KIS uses and whether it answers',
  help: [
    'Usage: npm run kis -- db:status [--json]',
    '',
    'Shows the database KIS uses: MONGODB_URI, or the embedded server under KIS_DATA_DIR.',
    'A running embedded server is reused; otherwise one is started for the check and stopped again.',
    'Also shows the engine (MongoDB, or FerretDB and its backend), every collection with its',
    'documents and sizes, and for each hot query of KIS (server/src/db/hot-queries.ts) whether',
    'the database answers it from an index, from its explain plan.',
    '',
    'Options:',
    '  --json   print the status as JSON',
  ].join('\n'),
  async run(args, config) {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
    const db = await provisionFor(config);
    try {
      const dataDir = db.kind === 'external' ? null : config.dataDir;
      const status: DbStatus = {
        server: db.kind === 'external' ? 'MONGODB_URI' : `embedded ${db.kind}`,
        uri: redactUri(db.uri),
        database: databaseName(db.uri),
        reachable: false,
        version: null,
        dataDir,
        startedForThisCommand: db.owned,
        engine: null,
        collections: null,
        hotQueries: null,
      };
      const client = new MongoClient(db.uri, { serverSelectionTimeoutMS: 3000 });
      try {
        const info = await client.db('admin').command({ buildInfo: 1 });
        status.version = String(info.version);
        status.reachable = true;
        const kis = client.db(status.database);
        const names = await collectionNames(kis);
        status.hotQueries = await hotQueryStatus(kis, new Set(names));
        status.engine = await engineStatus(info, db.kind, dataDir, status.hotQueries);
        status.collections = await collectionStatus(kis, names, status.engine.backend === 'postgresql');
      } catch (err) {
        // Unreachable: the status says so. Reachable but a look failed: that is worth a message.
        if (status.reachable) process.stderr.write(`db:status: ${(err as Error).message}\n`);
      } finally {
        await client.close();
      }
      process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : human(status));
      return status.reachable ? 0 : 1;
    } finally {
      await db.stop();
    }
  },
};
