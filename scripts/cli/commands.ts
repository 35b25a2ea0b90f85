import type { Config } from '../../server/src/config.js';
import { adminCreate } from './admin-create.js';
import { auditVerify } from './audit-verify.js';
import { backup, restore } from './backup.js';
import { legacyImport } from './legacy-import.js';
import { dbStatus } from './db-status.js';
import { depotAdd } from './depot-add.js';

/** One CLI command. `run` returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run(args: string[], config: Config): Promise<number>;
}

/** Every command of `npm run kis`, in the order --help lists them. */
export const commands: readonly Command[] = [
  dbStatus,
  adminCreate,
  auditVerify,
  depotAdd,
  backup,
  restore,
  legacyImport,
];
