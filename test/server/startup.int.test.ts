import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVER_ENTRY, exited } from '../helpers/server.js';

/** Runs the built server with an environment and returns its exit code and output. */
async function runServer(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [SERVER_ENTRY], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await exited(child);
  return { code, stderr };
}

describe('start-up', () => {
  it('stops with one line naming the variable when a setting is bad', async () => {
    const { code, stderr } = await runServer({ PATH: process.env.PATH, KIS_HTTP_PORT: 'abc' });
    expect(code).not.toBe(0);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/KIS_HTTP_PORT/);
  });

  it('says what to install when no database can be had', async () => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'kis-nodb-'));
    try {
      // Only FerretDB may be used, and neither it nor Go is on this PATH or under this HOME.
      const { code, stderr } = await runServer({
        PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
        HOME: home,
        KIS_DB_ENGINE: 'ferretdb',
        KIS_DATA_DIR: path.join(home, 'data'),
        KIS_HTTP_PORT: '0',
        KIS_UDP_PORT: '0',
      });
      expect(code).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/No database available/);
      expect(lines[0]).toMatch(/MONGODB_URI/);
      expect(lines[0]).toMatch(/install-ferretdb/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
