import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './server.js';

const run = promisify(execFile);
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

/** Runs `npm run kis -- …` with exactly the given KIS settings (none inherited from the test process). */
export async function kisCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('KIS_') && k !== 'MONGODB_URI'),
  );
  try {
    const { stdout, stderr } = await run(TSX, [path.join(ROOT, 'scripts/kis.ts'), ...args], {
      env: { ...clean, KIS_LOG_LEVEL: 'warn', ...env },
      cwd: ROOT,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}
