import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../server/src/crypto/secret-box.js';
import { ROOT, testDatabaseUri } from '../helpers/server.js';

const run = promisify(execFile);
let dataDir: string;
let mongoUri: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-depot-cli-'));
  mongoUri = testDatabaseUri();
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function kis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, KIS_DATA_DIR: dataDir, MONGODB_URI: mongoUri, KIS_UDP_PORT: '7010' };
  try {
    const { stdout, stderr } = await run(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [path.join(ROOT, 'scripts/kis.ts'), ...args],
      { env },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run kis -- depot:add', () => {
  it('registers a depot, writes its provisioning file once with mode 0600, and keeps the key sealed', async () => {
    const out = path.join(dataDir, 'lager-nord.json');
    const added = await kis([
      'depot:add',
      '--name',
      'Lager Nord',
      '--compartments',
      '8',
      '--heartbeat',
      '30',
      '--server',
      'kis.example:7010',
      '--out',
      out,
    ]);
    expect(added.code).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(out, 'utf8')) as {
      depotId: string;
      keyId: number;
      key: string;
      server: string;
      heartbeat: number;
    };
    expect(file).toMatchObject({ keyId: 1, server: 'kis.example:7010', heartbeat: 30 });
    expect(file.depotId).toMatch(/^[0-9a-f]{16}$/);
    expect(Buffer.from(file.key, 'base64')).toHaveLength(32);

    const client = new MongoClient(mongoUri);
    try {
      const doc = await client.db().collection('depots').findOne({ depotId: file.depotId });
      expect(doc).toMatchObject({
        name: 'Lager Nord',
        compartments: 8,
        heartbeatSeconds: 30,
        currentKeyId: 1,
        status: 'active',
      });
      const sealed = (doc?.keys as Array<{ sealed: string }>)[0]?.sealed ?? '';
      expect(sealed).not.toContain(file.key);
      expect(JSON.stringify(doc)).not.toContain(file.key);
      const masterKey = Buffer.from((await readFile(path.join(dataDir, 'master.key'), 'utf8')).trim(), 'base64');
      const box = createSecretBox(masterKey);
      expect(box.open(sealed, `depot:${file.depotId}:key:1`).toString('base64')).toBe(file.key);
      // Bound to its depot: the sealed key does not open as another depot's.
      expect(() => box.open(sealed, 'depot:0000000000000001:key:1')).toThrow();
    } finally {
      await client.close();
    }

    // The file is handed out once: an existing one is never overwritten.
    const again = await kis(['depot:add', '--name', 'Lager Süd', '--compartments', '4', '--out', out]);
    expect(again.code).not.toBe(0);
  });

  it('prints the provisioning file when no --out is given, and refuses bad input', async () => {
    const printed = await kis(['depot:add', '--name', 'Tresor', '--compartments', '2']);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toMatchObject({ keyId: 1, heartbeat: 60, server: '127.0.0.1:7010' });
    expect((await kis(['depot:add', '--name', 'Kaputt', '--compartments', '0'])).code).toBe(1);
    expect((await kis(['depot:add', '--compartments', '3'])).code).toBe(2);
  });
});
