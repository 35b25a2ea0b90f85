import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { importLegacyFile } from '../../server/src/identity/legacy-import.js';
import { init as legacyInit } from '../../server/src/identity/legacy.js';
import type { Command } from './commands.js';
import { withDatabase } from './database.js';

/** `legacy:import FILE [--dry-run]`: takes over accounts from older products. */
export const legacyImport: Command = {
  name: 'legacy:import',
  summary: 'Import legacy user-name accounts from CSV or JSON (checks every line first)',
  help: [
    'Usage: npm run kis -- legacy:import FILE [--dry-run] [--json]',
    '',
    'FILE is CSV (header: username;displayName;company;main;rights;passwordHash;products) or JSON',
    '(an array of objects with those keys), by its extension. Every line is checked first; one',
    'problem anywhere and nothing is written. --dry-run only reports. Importing the same file again',
    'changes nothing. --json prints the report as JSON. Exit code 1 when there were problems.',
  ].join('\n'),
  async run(args, config) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    });
    const file = positionals[0];
    if (!file) {
      process.stderr.write('legacy:import needs a file: npm run kis -- legacy:import FILE [--dry-run]\n');
      return 2;
    }
    const text = await readFile(file, 'utf8');
    const format = file.toLowerCase().endsWith('.json') ? 'json' : 'csv';
    return withDatabase(config, async () => {
      await legacyInit();
      const started = Date.now();
      const report = await importLegacyFile(
        { role: 'admin', userId: 'cli' },
        { text, format },
        { dryRun: values['dry-run'] === true },
      );
      if (values.json) process.stdout.write(`${JSON.stringify({ ...report, ms: Date.now() - started })}\n`);
      else {
        for (const p of report.problems) process.stdout.write(`line ${p.line}, ${p.field}: ${p.message} (${p.code})\n`);
        process.stdout.write(
          `${report.written ? 'imported' : values['dry-run'] ? 'dry run, nothing written' : 'NOTHING written'}: ` +
            `${report.accounts.create} new, ${report.accounts.update} changed, ${report.accounts.unchanged} unchanged accounts; ` +
            `${report.companies.create} new companies; ${report.problems.length} problems\n`,
        );
      }
      return report.problems.length ? 1 : 0;
    });
  },
};
