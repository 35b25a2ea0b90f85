import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { ROOT } from '../helpers/server.js';

const run = promisify(execFile);
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function kis(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('KIS_') && k !== 'MONGODB_URI'),
  );
  try {
    const { stdout } = await run(TSX, [path.join(ROOT, 'scripts/kis.ts'), ...args], {
      env: { ...clean, ...env },
      cwd: ROOT,
    });
    return { stdout, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; code: number };
    return { stdout: e.stdout, code: e.code };
  }
}

describe('npm run kis', () => {
  it('lists its commands with --help', async () => {
    const { stdout, code } = await kis(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/db:status\s+Show which database server/);
  });

  it('refuses an unknown command', async () => {
    expect((await kis(['db:explode'])).code).toBe(2);
  });

  it('db:status reuses the embedded database a running KIS process started', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-cli-'));
    dirs.push(dataDir);
    const db = await provisionDatabase({ dataDir, only: 'ferretdb' });
    try {
      const { stdout, code } = await kis(['db:status', '--json'], { KIS_DATA_DIR: dataDir, KIS_DB_ENGINE: 'ferretdb' });
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({
        server: 'embedded ferretdb',
        uri: db.uri,
        database: 'kis',
        reachable: true,
        startedForThisCommand: false,
      });
    } finally {
      await db.stop();
    }
  });

  it('db:status names MONGODB_URI without its password', async () => {
    const { stdout } = await kis(['db:status'], {
      MONGODB_URI: `mongodb://alice:s3cret@127.0.0.1:1/kis_x?serverSelectionTimeoutMS=500`,
    });
    expect(stdout).toContain('server:    MONGODB_URI');
    expect(stdout).toContain('mongodb://alice:***@127.0.0.1:1/kis_x');
    expect(stdout).not.toContain('s3cret');
    expect(stdout).toContain('reachable: no');
  });
});
