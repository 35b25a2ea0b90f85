/**
 * The KIS command line: `npm run kis -- <command> [options]`. `npm run kis -- --help` lists the
 * commands. Every command reads the same configuration as the server (environment, embedded
 * defaults) and reuses a running embedded database.
 */
import { ConfigError, loadConfig } from '../server/src/config.js';
import { DatabaseUnavailableError } from '../server/src/db/provision.js';
import { commands } from './cli/commands.js';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: npm run kis -- <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "npm run kis -- <command> --help" for a command\'s options.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    const config = loadConfig(process.env);
    return await command.run(rest, config);
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`KIS configuration error: ${err.message}\n`);
    else if (err instanceof DatabaseUnavailableError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
