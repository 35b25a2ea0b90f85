import path from 'node:path';
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import * as audit from '../../server/src/audit/service.js';
import { BackupDamagedError, restoreBackup, writeBackup } from '../../server/src/db/backup.js';
import { backupFiles } from '../../server/src/areas/files.js';
import { backupNow } from '../../server/src/jobs/backups.js';
import { createLogger } from '../../server/src/logger.js';
import type { Command } from './commands.js';
import { diskStoreFor, withDatabase } from './database.js';

function database(): mongoose.mongo.Db {
  const db = mongoose.connection.db;
  if (!db) throw new Error('not connected');
  return db;
}

/** `backup`: writes an encrypted, compressed backup of every collection and file. */
export const backup: Command = {
  name: 'backup',
  summary: 'Write an encrypted backup of the whole database (collections and files)',
  help: [
    'Usage: npm run kis -- backup [--out FILE]',
    '',
    'Writes a backup into KIS_BACKUP_DIR (default ./data/backups), keeping the newest KIS_BACKUP_KEEP,',
    'or to FILE. The backup is encrypted with a key derived from the master key: keep KIS_MASTER_KEY',
    '(or ./data/master.key) safe, a backup restores only with it.',
  ].join('\n'),
  async run(args, config) {
    const { values } = parseArgs({ args, options: { out: { type: 'string' } } });
    return withDatabase(config, async (masterKey, store) => {
      if (values.out) {
        const file = path.resolve(values.out);
        const summary = await writeBackup(database(), masterKey, file, backupFiles(store));
        process.stdout.write(`backup written: ${file} (${summary.documents} documents, ${summary.files} files)\n`);
        return 0;
      }
      const file = await backupNow({
        db: database,
        files: backupFiles(store),
        masterKey,
        dir: config.backupDir,
        keep: config.KIS_BACKUP_KEEP,
        logger: createLogger({ ...config, KIS_LOG_LEVEL: 'warn' }),
      });
      process.stdout.write(`backup written: ${file}\n`);
      return 0;
    });
  },
};

/** `restore FILE`: replaces the database with a backup, all or nothing. */
export const restore: Command = {
  name: 'restore',
  summary: 'Replace the database with a backup (all or nothing; stop KIS first)',
  help: [
    'Usage: npm run kis -- restore FILE',
    '',
    'Checks the whole backup first and refuses a damaged or cut-off file, or one made with another',
    'master key, without changing anything. Then loads it beside the live data and swaps it in.',
    'Stop the KIS server before restoring. Exit code 0 when restored, 1 when refused.',
  ].join('\n'),
  async run(args, config) {
    const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
    const file = positionals[0];
    if (!file) {
      process.stderr.write('restore needs the backup file: npm run kis -- restore FILE\n');
      return 2;
    }
    return withDatabase(config, async (masterKey) => {
      try {
        // Files in a backup were on the disk where it was made, and the restored database says so.
        const files = backupFiles(diskStoreFor(config, masterKey));
        const summary = await restoreBackup(database(), path.resolve(file), masterKey, files);
        await audit.record({
          action: 'system.restored',
          outcome: 'success',
          actorId: 'cli',
          target: path.basename(file),
          details: { createdAt: summary.createdAt, documents: summary.documents, files: summary.files },
        });
        process.stdout.write(
          `restored ${summary.documents} documents in ${Object.keys(summary.collections).length} collections and ${summary.files} files from the backup of ${summary.createdAt}\n`,
        );
        return 0;
      } catch (err) {
        if (err instanceof BackupDamagedError) {
          process.stderr.write(`backup refused, nothing was changed: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
    });
  },
};
