/**
 * The operator's home: what needs an operator's eye, gathered from the modules that own it (depots,
 * accounts, outbox, erasures, backups), and the first-run checklist. Operators only; every figure
 * is a count, never a person's data.
 */
import type { OperatorOverview } from '@kis/protocol/api';
import * as depots from '../depots/service.js';
import { Forbidden } from '../errors.js';
import * as identity from '../identity/service.js';
import type { Caller } from '../identity/service.js';
import { backupStatus } from '../jobs/backups.js';
import * as mail from '../mail/service.js';
import * as erasures from '../privacy/erasures.js';

/** What "new registrations" counts back: UTC days, today included. */
const REGISTRATION_DAYS = 7;

let settings: { backupDir: string; backupTime: string } | undefined;

/** Where the daily backups go and when they run (config: KIS_BACKUP_DIR, KIS_BACKUP_TIME). */
export function init(options: { backupDir: string; backupTime: string }): void {
  settings = options;
}

export async function operatorOverview(
  caller: Pick<Caller, 'role'>,
  now: Date = new Date(),
): Promise<OperatorOverview> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const [fleet, accounts, outbox, erasure, backup] = await Promise.all([
    depots.fleetFigures(caller),
    identity.accountFigures(caller, now, REGISTRATION_DAYS),
    mail.outboxFigures(caller),
    erasures.erasureFigures(caller, now),
    settings ? backupStatus(settings.backupDir) : { last: undefined, failedAt: undefined },
  ]);
  return {
    depots: fleet,
    registrations: { lastWeek: accounts.registered, unverified: accounts.unverified },
    outbox,
    erasures: erasure,
    backup: {
      schedule: settings && settings.backupTime !== 'off' ? settings.backupTime : null,
      last: backup.last ? { at: backup.last.at.toISOString(), file: backup.last.file } : null,
      failedAt: backup.failedAt?.toISOString() ?? null,
    },
    checklist: {
      mail: mail.isConfigured(),
      depot: fleet.total > 0,
      domains: accounts.organizations > 0 && accounts.organizationsWithoutDomain === 0,
    },
  };
}
