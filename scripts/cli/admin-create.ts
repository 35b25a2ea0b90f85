import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createLogger } from '../../server/src/logger.js';
import * as identity from '../../server/src/identity/service.js';
import type { Command } from './commands.js';
import { withDatabase } from './database.js';

/** `admin:create --email E`: a one-time link to create (or promote) an administrator. */
export const adminCreate: Command = {
  name: 'admin:create',
  summary: 'Print a one-time link to create an administrator',
  help: [
    'Usage: npm run kis -- admin:create --email <address>',
    '',
    'Prints a link, valid 24 hours and usable once, where the administrator with this address',
    'chooses a name and password. No password is ever sent by mail or shown here.',
  ].join('\n'),
  async run(args, config) {
    const { values } = parseArgs({ args, options: { email: { type: 'string' } } });
    const email = z.email().safeParse(values.email ?? '');
    if (!email.success) {
      process.stderr.write('admin:create needs --email with a valid address\n');
      return 2;
    }
    return withDatabase(config, async (masterKey) => {
      await identity.init({
        publicUrl: config.publicUrl,
        bcryptCost: config.KIS_BCRYPT_COST,
        masterKey,
        logger: createLogger({ KIS_LOG_LEVEL: 'warn' }),
        throttle: { maxFailures: 1, lockoutStepMs: 0, lockoutMaxMs: 0, failureResetMs: 0 },
      });
      const link = await identity.createAdminSetupLink(email.data);
      process.stdout.write(`One-time link to create the administrator ${email.data} (valid 24 hours):\n  ${link}\n`);
      return 0;
    });
  },
};
