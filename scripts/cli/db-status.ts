import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { databaseName, redactUri } from '../../server/src/db/connection.js';
import type { Command } from './commands.js';
import { provisionFor } from './database.js';

/** `db:status`: which database server KIS uses, where, and whether it answers. */
export const dbStatus: Command = {
  name: 'db:status',
  summary: 'Show which database server KIS uses and whether it answers',
  help: [
    'Usage: npm run kis -- db:status [--json]',
    '',
    'Shows the database KIS uses: MONGODB_URI, or the embedded server under KIS_DATA_DIR.',
    'A running embedded server is reused; otherwise one is started for the check and stopped again.',
    '',
    'Options:',
    '  --json   print the status as JSON',
  ].join('\n'),
  async run(args, config) {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
    const db = await provisionFor(config);
    try {
      const client = new MongoClient(db.uri, { serverSelectionTimeoutMS: 3000 });
      let version: string | undefined;
      let reachable = false;
      try {
        const info = await client.db('admin').command({ buildInfo: 1 });
        version = String(info.version);
        reachable = true;
      } catch {
        reachable = false;
      } finally {
        await client.close();
      }
      const status = {
        server: db.kind === 'external' ? 'MONGODB_URI' : `embedded ${db.kind}`,
        uri: redactUri(db.uri),
        database: databaseName(db.uri),
        reachable,
        version: version ?? null,
        dataDir: db.kind === 'external' ? null : config.dataDir,
        startedForThisCommand: db.owned,
      };
      if (values.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      } else {
        process.stdout.write(
          [
            `server:    ${status.server}${status.startedForThisCommand ? ' (started for this check, stopped again)' : ''}`,
            `uri:       ${status.uri}`,
            `database:  ${status.database}`,
            `reachable: ${reachable ? 'yes' : 'no'}${version ? ` (reports version ${version})` : ''}`,
            ...(status.dataDir ? [`data:      ${status.dataDir}`] : []),
          ].join('\n') + '\n',
        );
      }
      return reachable ? 0 : 1;
    } finally {
      await db.stop();
    }
  },
};
