import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Config } from '../../server/src/config.js';
import { createSecretBox } from '../../server/src/crypto/secret-box.js';
import * as depots from '../../server/src/depots/service.js';
import type { Command } from './commands.js';
import { withDatabase } from './database.js';

/** Where depots send their telegrams, as their provisioning file names it. */
export function defaultServer(config: Config): string {
  const host = config.KIS_PUBLIC_URL
    ? new URL(config.KIS_PUBLIC_URL).hostname
    : config.KIS_HOST === '0.0.0.0'
      ? '127.0.0.1'
      : config.KIS_HOST;
  return `${host}:${config.KIS_UDP_PORT}`;
}

/** `depot:add`: registers a depot and prints or writes its provisioning file (the key is shown only here). */
export const depotAdd: Command = {
  name: 'depot:add',
  summary: 'Register a key depot and print or write its provisioning file',
  help: [
    'Usage: npm run kis -- depot:add --name N [--location L] [--org ORG_ID] --compartments C',
    '                                [--heartbeat SECONDS] [--server HOST:PORT] [--out FILE]',
    '',
    'Creates the depot with a random id and 32-byte key (sealed at rest with the master key) and',
    'hands out its provisioning file once: printed, or written to FILE with mode 0600.',
    'Defaults: heartbeat 60 s, server <public host>:KIS_UDP_PORT.',
  ].join('\n'),
  async run(args, config) {
    const { values } = parseArgs({
      args,
      options: {
        name: { type: 'string' },
        location: { type: 'string' },
        org: { type: 'string' },
        compartments: { type: 'string' },
        heartbeat: { type: 'string', default: '60' },
        server: { type: 'string' },
        out: { type: 'string' },
      },
    });
    if (!values.name || !values.compartments) {
      process.stderr.write('depot:add needs --name and --compartments (see --help)\n');
      return 2;
    }
    return withDatabase(config, async (masterKey) => {
      await depots.init(createSecretBox(masterKey));
      const { provisioning } = await depots.registerDepot(
        { role: 'admin', userId: 'cli', email: 'cli', ip: 'local' },
        {
          name: values.name ?? '',
          ...(values.location ? { location: values.location } : {}),
          ...(values.org ? { organizationId: values.org } : {}),
          compartments: Number(values.compartments),
          heartbeatSeconds: Number(values.heartbeat),
          server: values.server ?? defaultServer(config),
        },
      );
      const text = `${JSON.stringify(provisioning, null, 2)}\n`;
      if (values.out) {
        await writeFile(values.out, text, { mode: 0o600, flag: 'wx' });
        process.stdout.write(`depot ${provisioning.depotId} registered; provisioning file written to ${values.out}\n`);
      } else {
        process.stdout.write(text);
      }
      return 0;
    });
  },
};
