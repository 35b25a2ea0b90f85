import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from 'mongodb';
import * as audit from '../audit/service.js';
import { backupFileName, writeBackup, type BackupFiles } from '../db/backup.js';
import type { Logger } from '../logger.js';

export interface BackupJobOptions {
  db: () => Db;
  /** The file bytes kept outside the database, which each backup carries too. */
  files?: BackupFiles;
  masterKey: Buffer;
  dir: string;
  /** HH:MM in `timeZone`, or `off`. */
  time: string;
  timeZone: string;
  keep: number;
  logger: Logger;
}

/** Milliseconds from `now` until the next HH:MM wall-clock time in a zone (DST handled by asking Intl). */
export function msUntil(time: string, timeZone: string, now: Date = new Date()): number {
  const [hh, mm] = time.split(':').map(Number);
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(now);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const nowSeconds = get('hour') * 3600 + get('minute') * 60 + get('second');
  let wait = (hh ?? 0) * 3600 + (mm ?? 0) * 60 - nowSeconds;
  if (wait <= 0) wait += 24 * 3600;
  return wait * 1000 - now.getMilliseconds();
}

/** Backup files of ours in a directory: `kis-backup-<UTC time>.kisbak`, so names sort by time. */
const BACKUP_FILE = /^kis-backup-.*\.kisbak$/;

/** When the last backup this process tried failed; cleared by the next one written. */
let failedAt: Date | undefined;

/** The newest backup in `dir` (none when the directory is missing or empty), and a failure since. */
export async function backupStatus(
  dir: string,
): Promise<{ last: { at: Date; file: string } | undefined; failedAt: Date | undefined }> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => BACKUP_FILE.test(f)).sort();
  const newest = files.at(-1);
  const last = newest ? { at: (await stat(path.join(dir, newest))).mtime, file: newest } : undefined;
  return { last, failedAt };
}

/** Deletes all but the newest `keep` backups in `dir`. */
export async function pruneBackups(dir: string, keep: number): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => BACKUP_FILE.test(f)).sort();
  const old = files.slice(0, Math.max(0, files.length - keep));
  for (const f of old) await rm(path.join(dir, f), { force: true });
  return old;
}

/** Writes one backup into the job's directory now and prunes old ones; returns the file. */
export async function backupNow(options: Omit<BackupJobOptions, 'time' | 'timeZone'>): Promise<string> {
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const file = path.join(options.dir, backupFileName());
  const started = Date.now();
  const summary = await writeBackup(options.db(), options.masterKey, file, options.files);
  failedAt = undefined;
  const removed = await pruneBackups(options.dir, options.keep);
  options.logger.info(
    { file, documents: summary.documents, files: summary.files, ms: Date.now() - started, removed: removed.length },
    'backup written',
  );
  await audit.record({
    action: 'system.backup_written',
    outcome: 'success',
    actorId: 'system:backups',
    target: path.basename(file),
    details: { documents: summary.documents, files: summary.files, removed: removed.length },
  });
  return file;
}

/**
 * The daily backup: at `time` in `timeZone`, a backup into `dir`, keeping the newest `keep`.
 * A failure is logged and audited; the next day tries again.
 */
export function startBackupJob(options: BackupJobOptions): { stop(): void } {
  if (options.time === 'off') return { stop: () => undefined };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        void backupNow(options)
          .catch(async (err: unknown) => {
            failedAt = new Date();
            options.logger.error({ err }, 'daily backup failed');
            await audit
              .record({ action: 'system.backup_failed', outcome: 'failure', actorId: 'system:backups' })
              .catch(() => undefined);
          })
          .finally(schedule);
      },
      msUntil(options.time, options.timeZone),
    );
    timer.unref();
  };
  schedule();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
