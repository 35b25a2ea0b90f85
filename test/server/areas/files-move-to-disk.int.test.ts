import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD } from '../../helpers/api.js';
import { download, upload } from '../../helpers/areas.js';
import { customer } from '../../helpers/organizations.js';
import { startServer, testDatabaseUri, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const MASTER_KEY = randomBytes(32).toString('hex');
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
let smtp: TestSmtp;
let dataDir: string;
let mongoUri: string;
let mongo: MongoClient;

function start(fileStore: string): Promise<TestServer> {
  return startServer({
    dataDir,
    env: { SMTP_URL: smtp.url, KIS_MASTER_KEY: MASTER_KEY, MONGODB_URI: mongoUri, KIS_FILE_STORE: fileStore },
  });
}

async function collections(): Promise<string[]> {
  return (await mongo.db().listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
}

async function sealedFiles(): Promise<number> {
  let count = 0;
  for (const sub of await readdir(path.join(dataDir, 'files')).catch(() => []))
    if (/^[0-9a-f]{2}$/.test(sub)) count += (await readdir(path.join(dataDir, 'files', sub))).length;
  return count;
}

beforeAll(async () => {
  smtp = await startSmtp();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'kis-move-files-'));
  mongoUri = testDatabaseUri();
  mongo = await MongoClient.connect(mongoUri);
});
afterAll(async () => {
  await mongo?.close();
  await smtp?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('files kept in the database by an earlier KIS', () => {
  const plan = randomBytes(3 * 1024 * 1024 + 999);
  const note = Buffer.from('Schlüssel liegt im Fach 3');
  const ids: Record<string, string> = {};

  it('move to the disk at start, byte for byte, each content once', async () => {
    // Written the way KIS kept files up to now: GridFS in the database, no note of the store.
    const before = await start('database');
    try {
      const user = await customer(before, smtp, 'umzug@kunde.example');
      for (const [name, bytes] of [
        ['plan.bin', plan],
        ['notiz.txt', note],
        ['notiz-kopie.txt', note],
      ] as const) {
        const res = await upload<{ id: string }>(user, `/api/files?name=${name}`, bytes);
        expect(res.status).toBe(200);
        ids[name] = res.body.id;
      }
    } finally {
      await before.stop();
    }
    expect(await mongo.db().collection('areafiles.files').countDocuments()).toBe(3);
    await mongo.db().collection('system_settings').deleteMany({});
    expect(await sealedFiles()).toBe(0);

    const after = await start('disk');
    try {
      const moved = after.logs.find((l) => l.msg === 'moved stored files out of the database');
      expect(moved).toMatchObject({ moved: 3 });
      expect(await collections()).not.toContain('areafiles.chunks');
      expect(await collections()).not.toContain('areafiles.files');
      expect(await sealedFiles()).toBe(2);
      const user = new ApiClient(after, '198.51.100.31');
      expect((await user.login('umzug@kunde.example', GOOD_PASSWORD)).status).toBe(200);
      expect(sha((await download(user, `/api/files/${ids['plan.bin']}`)).bytes)).toBe(sha(plan));
      expect((await download(user, `/api/files/${ids['notiz.txt']}`)).bytes.equals(note)).toBe(true);
      // Deleting one copy keeps the other's bytes.
      expect((await user.request('DELETE', `/api/files/${ids['notiz.txt']}`)).status).toBe(200);
      expect((await download(user, `/api/files/${ids['notiz-kopie.txt']}`)).bytes.equals(note)).toBe(true);
      expect(await sealedFiles()).toBe(2);
    } finally {
      await after.stop();
    }
  });

  it('stay on the disk at later starts, and a setting that would lose them is refused', async () => {
    const again = await start('auto');
    try {
      const user = new ApiClient(again, '198.51.100.32');
      expect((await user.login('umzug@kunde.example', GOOD_PASSWORD)).status).toBe(200);
      expect(sha((await download(user, `/api/files/${ids['plan.bin']}`)).bytes)).toBe(sha(plan));
    } finally {
      await again.stop();
    }
    await expect(start('database')).rejects.toThrow(/cannot move them back/);
  });
});
