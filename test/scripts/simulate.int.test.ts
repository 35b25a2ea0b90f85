import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DepotView } from '@kis/protocol/api';
import { createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { udpCount } from '../helpers/depots.js';
import { ROOT, eventually, exited, startServer, testDatabaseUri, type TestServer } from '../helpers/server.js';

let server: TestServer;
let admin: ApiClient;
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-simulate-'));
  env = { MONGODB_URI: testDatabaseUri() };
  server = await startServer({ dataDir, env });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm run simulate', () => {
  it('registers demo depots through the CLI and brings them online on the running server', async () => {
    // Its files go beside the server's data (KIS_DATA_DIR), not into the checkout.
    const dir = path.join(dataDir, 'simulator');
    const child = spawn(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [
        path.join(ROOT, 'scripts/simulate.ts'),
        '--register',
        '--depots',
        '2',
        '--compartments',
        '3',
        '--duration',
        '30',
      ],
      {
        env: { ...process.env, ...env, KIS_DATA_DIR: dataDir, KIS_UDP_PORT: String(server.udpPort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    try {
      await eventually(
        async () => {
          const list = (await admin.get<{ items: DepotView[] }>('/api/depots')).body.items;
          return list.length === 2 && list.every((d) => d.online);
        },
        45_000,
        `two simulated depots online (${output})`,
      );
      const list = (await admin.get<{ items: DepotView[] }>('/api/depots')).body.items;
      expect(list.map((d) => d.name)).toEqual(['Simulator 001', 'Simulator 002']);
      expect(list[0]?.comps).toHaveLength(3);
      expect(output).toContain('registered 2 depot(s)');
      // The server learned of them from their first telegram; the HEARTBEAT right behind the HELLO
      // waited for that one look-up instead of being dropped.
      expect(await udpCount(server, 'unknown_depot')).toBe(0);
      expect(await udpCount(server, 'accepted')).toBeGreaterThanOrEqual(4);
      expect((await readdir(dir)).filter((f) => f.endsWith('.json'))).toHaveLength(2);
    } finally {
      child.kill('SIGTERM');
      // It stops at once on SIGTERM, well before its --duration.
      const started = Date.now();
      expect(await exited(child)).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });
});
