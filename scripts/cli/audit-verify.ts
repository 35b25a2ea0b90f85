import * as audit from '../../server/src/audit/service.js';
import type { Command } from './commands.js';
import { withDatabase } from './database.js';

/** `audit:verify`: recomputes the audit log's hash chain. */
export const auditVerify: Command = {
  name: 'audit:verify',
  summary: 'Check that no audit log entry was altered, removed or inserted',
  help: [
    'Usage: npm run kis -- audit:verify',
    '',
    'Exit code 0 when the whole chain verifies, 1 when an entry breaks it.',
  ].join('\n'),
  async run(_args, config) {
    return withDatabase(config, async () => {
      const report = await audit.verifyChain();
      if (report.ok) {
        process.stdout.write(`audit log intact: ${report.entries} entries verified\n`);
        return 0;
      }
      const what = {
        hash: 'its content was altered',
        link: 'it does not follow its predecessor',
        gap: 'an entry is missing',
      }[report.reason ?? 'hash'];
      process.stdout.write(
        `audit log BROKEN at entry ${report.brokenAt}: ${what} (${report.entries} entries before it verified)\n`,
      );
      return 1;
    });
  },
};
