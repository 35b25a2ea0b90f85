import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BSON, MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { download, upload } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { customer } from '../../helpers/organizations.js';
import { ROOT, startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const run = promisify(execFile);
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const MASTER_KEY = randomBytes(32).toString('hex');
let smtp: TestSmtp;
let server: TestServer;
let mongoUri: string;
let mongo: MongoClient;
let dir: string;
let big: Buffer;
let bigId: string;

/** Runs `npm run kis -- …` against the test database with the server's master key. */
async function kis(
  args: string[],
  masterKey = MASTER_KEY,
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('KIS_') && k !== 'MONGODB_URI'),
  );
  try {
    const { stdout, stderr } = await run(TSX, [path.join(ROOT, 'scripts/kis.ts'), ...args], {
      env: {
        ...clean,
        MONGODB_URI: mongoUri,
        KIS_MASTER_KEY: masterKey,
        KIS_DATA_DIR: dir,
        KIS_LOG_LEVEL: 'warn',
        ...env,
      },
      cwd: ROOT,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** Every collection's documents in canonical Extended JSON, ordered by _id: what "identical" means. */
async function snapshot(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of names) {
    const docs = await db.collection(name).find({}).toArray();
    out[name] = docs
      .filter((d) => !(name === 'audit' && d.action === 'system.restored'))
      .map((d) => BSON.EJSON.stringify(d, { relaxed: false }))
      .sort();
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kis-backup-'));
  smtp = await startSmtp();
  server = await startServer({ dataDir: dir, env: { SMTP_URL: smtp.url, KIS_MASTER_KEY: MASTER_KEY } });
  mongoUri = server.mongoUri;
  const admin = await createFirstAdmin(server);
  const user = await customer(server, smtp, 'sicherung@kunde.example');
  big = randomBytes(3 * 1024 * 1024 + 17);
  const uploaded = await upload<{ id: string }>(user, '/api/files?name=Grundriss%20B%C3%BCro.bin', big);
  expect(uploaded.status).toBe(200);
  bigId = uploaded.body.id;
  await upload(user, '/api/files?name=notiz.txt', Buffer.from('Schlüssel liegt im Fach 3'));
  const depotId = (await registerDepot(admin, { name: 'Depot Süd' })).depot.depotId;
  for (let i = 0; i < 30; i++)
    await admin.post(`/api/depots/${depotId}/history`, { kind: 'note', text: `Eintrag ${i}` });
  await server.stop();
  mongo = await MongoClient.connect(mongoUri);
});
afterAll(async () => {
  await mongo?.close();
  await smtp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The names of the sealed files in the data directory's file store. */
async function sealedFiles(): Promise<string[]> {
  const root = path.join(dir, 'files');
  const found: string[] = [];
  for (const sub of (await readdir(root)).filter((n) => /^[0-9a-f]{2}$/.test(n)))
    for (const name of await readdir(path.join(root, sub))) found.push(name);
  return found.sort();
}

describe('backup and restore', () => {
  let file: string;
  let before: Record<string, string[]>;
  let filesBefore: string[];

  it('writes an encrypted backup that holds no readable data', async () => {
    before = await snapshot(mongo.db());
    // The default install keeps the files' bytes on the disk, outside the database.
    filesBefore = await sealedFiles();
    expect(filesBefore).toHaveLength(2);
    expect(before['areafiles.chunks']).toBeUndefined();
    file = path.join(dir, 'kis.kisbak');
    const made = await kis(['backup', '--out', file]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain('backup written');
    expect(made.stdout).toContain('2 files');
    const bytes = await readFile(file);
    expect(bytes.subarray(0, 11).toString()).toBe('KISBACKUP1\n');
    // Encrypted: neither addresses nor file content appear.
    expect(bytes.includes(Buffer.from('sicherung@kunde.example'))).toBe(false);
    expect(bytes.includes(big.subarray(1000, 1064))).toBe(false);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('restores identical collections and files after the database and the files were wiped', async () => {
    await mongo.db().dropDatabase();
    expect(await mongo.db().listCollections().toArray()).toEqual([]);
    await rm(path.join(dir, 'files'), { recursive: true });
    const restored = await kis(['restore', file]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/restored \d+ documents in \d+ collections and 2 files/);
    expect(await snapshot(mongo.db())).toEqual(before);
    expect(await sealedFiles()).toEqual(filesBefore);
    // The audit chain, restore entry included, still verifies.
    const verified = await kis(['audit:verify']);
    expect(verified.code, verified.stdout).toBe(0);

    // And the portal serves the file byte for byte again.
    const again = await startServer({
      dataDir: dir,
      env: { SMTP_URL: smtp.url, KIS_MASTER_KEY: MASTER_KEY, MONGODB_URI: mongoUri },
    });
    try {
      const user = new ApiClient(again, '198.51.100.7');
      expect((await user.login('sicherung@kunde.example', GOOD_PASSWORD)).status).toBe(200);
      const got = await download(user, `/api/files/${bigId}`);
      expect(got.status).toBe(200);
      expect(createHash('sha256').update(got.bytes).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    } finally {
      await again.stop();
    }
  });

  it('refuses a cut-off, a tampered and a foreign-key backup, and changes nothing', async () => {
    const current = await snapshot(mongo.db());
    const bytes = await readFile(file);
    const cut = path.join(dir, 'cut.kisbak');
    await writeFile(cut, bytes.subarray(0, bytes.length - 100));
    const flipped = Buffer.from(bytes);
    const middle = Math.floor(bytes.length / 2);
    flipped.writeUInt8(flipped.readUInt8(middle) ^ 0x01, middle);
    const tampered = path.join(dir, 'tampered.kisbak');
    await writeFile(tampered, flipped);

    for (const bad of [cut, tampered]) {
      const refused = await kis(['restore', bad]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('backup refused, nothing was changed');
    }
    const foreign = await kis(['restore', file], randomBytes(32).toString('hex'));
    expect(foreign.code).toBe(1);
    expect(await snapshot(mongo.db())).toEqual(current);
  });

  it('keeps only the newest backups in the backup directory', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await kis(['backup'], MASTER_KEY, { KIS_BACKUP_KEEP: '2' });
      expect(result.code, result.stderr).toBe(0);
      made.push(path.basename(result.stdout.trim().split(' ').pop() ?? ''));
    }
    const files = (await readdir(path.join(dir, 'backups'))).filter((f) => f.endsWith('.kisbak')).sort();
    expect(files).toEqual(made.slice(1));
  });
});
