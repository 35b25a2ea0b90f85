import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, createFirstAdmin } from '../../helpers/api.js';
import { kisCli } from '../../helpers/cli.js';
import { nextIp } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';

const MASTER_KEY = randomBytes(32).toString('hex');
let server: TestServer;
let admin: ApiClient;
let mongo: MongoClient;
let dir: string;
let csvFile: string;

function sha256Hash(password: string, salt: string): string {
  return `sha256$${salt}$${createHash('sha256').update(`${salt}${password}`).digest('hex')}`;
}

interface Counts {
  users: number;
  logins: number;
  companies: number;
  organizations: number;
}

async function counts(): Promise<Counts> {
  const db = mongo.db();
  return {
    users: await db.collection('users').countDocuments(),
    logins: await db.collection('legacy_logins').countDocuments(),
    companies: await db.collection('legacy_companies').countDocuments(),
    organizations: await db.collection('organizations').countDocuments(),
  };
}

function cli(args: string[]): ReturnType<typeof kisCli> {
  return kisCli(args, { MONGODB_URI: server.mongoUri, KIS_MASTER_KEY: MASTER_KEY, KIS_DATA_DIR: dir });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kis-legacy-'));
  server = await startServer({ env: { KIS_MASTER_KEY: MASTER_KEY } });
  admin = await createFirstAdmin(server);
  mongo = await MongoClient.connect(server.mongoUri);
  const lines = [
    'username;displayName;company;main;rights;passwordHash;products',
    `a.chef;Anna Chef;Autohaus Alt;ja;;${await bcrypt.hash('altes Passwort 1', 4)};Schlüsselbox`,
    `a.lager;Lars Lager;Autohaus Alt;nein;see_depots operate_depots;${sha256Hash('Lager-2019', 'x9')};Schlüsselbox`,
    `a.buero;Bea Büro;Autohaus Alt;nein;read_areas manage_files;${sha256Hash('Buero!', 'q1')};Portal`,
    `b.chef;Bernd Chef;Bäckerei Brot;1;;${sha256Hash('Brot und Butter', 's')};Portal`,
  ];
  csvFile = path.join(dir, 'legacy.csv');
  await writeFile(csvFile, `${lines.join('\n')}\n`);
});
afterAll(async () => {
  await mongo?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('legacy import', () => {
  it('reports a dry run without writing anything', async () => {
    const before = await counts();
    const run = await cli(['legacy:import', csvFile, '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      written: false,
      companies: { create: 2 },
      accounts: { create: 4, update: 0, unchanged: 0 },
      problems: [],
    });
    expect(await counts()).toEqual(before);
  });

  it('imports the file, and importing it again changes nothing', async () => {
    const before = await counts();
    const run = await cli(['legacy:import', csvFile]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('imported: 4 new');
    const after = await counts();
    expect(after).toEqual({
      users: before.users + 4,
      logins: 4,
      companies: 2,
      organizations: before.organizations + 2,
    });
    const snapshot = JSON.stringify(await mongo.db().collection('legacy_logins').find({}).sort({ _id: 1 }).toArray());
    const again = await cli(['legacy:import', csvFile, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ accounts: { create: 0, update: 0, unchanged: 4 }, written: true });
    expect(await counts()).toEqual(after);
    expect(JSON.stringify(await mongo.db().collection('legacy_logins').find({}).sort({ _id: 1 }).toArray())).toBe(
      snapshot,
    );
    // The company became an organization with its main account and its sub-accounts' rights.
    const org = await mongo.db().collection('organizations').findOne({ name: 'Autohaus Alt' });
    const members = await mongo
      .db()
      .collection('users')
      .find({ organizationId: String(org?._id) })
      .toArray();
    expect(members.map((m) => [m.name, m.accountType, m.rights]).sort()).toEqual([
      ['Anna Chef', 'main', []],
      ['Bea Büro', 'sub', ['read_areas', 'manage_files']],
      ['Lars Lager', 'sub', ['see_depots', 'operate_depots']],
    ]);
  });

  it('finishes an import that was cut off, without doubling anything', async () => {
    // As if the run had stopped after writing Bernd's account and company, before its legacy records.
    await mongo
      .db()
      .collection('legacy_logins')
      .deleteOne({ _id: 'b.chef' } as object);
    await mongo
      .db()
      .collection('legacy_companies')
      .deleteOne({ _id: 'bäckerei brot' } as object);
    const before = await counts();
    const run = await cli(['legacy:import', csvFile, '--json']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ accounts: { create: 1, unchanged: 3 }, written: true });
    expect(await counts()).toEqual({ ...before, logins: before.logins + 1, companies: before.companies + 1 });
  });

  it('lists every problem by line and writes nothing when there is one', async () => {
    const bad = path.join(dir, 'bad.csv');
    await writeFile(
      bad,
      [
        'username;displayName;company;main;rights;passwordHash;products',
        `c.one;Carl;Chaos GmbH;nein;;${sha256Hash('x', 'y')};`,
        'c two;Cleo;Chaos GmbH;nein;;nicht-gehasht;',
        `c.three;Chris;Chaos GmbH;nein;fly_rockets;${sha256Hash('x', 'y')};`,
        `c.one;Carla;Chaos GmbH;nein;;${sha256Hash('x', 'y')};`,
      ].join('\n'),
    );
    const before = await counts();
    const run = await cli(['legacy:import', bad, '--json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { written: boolean; problems: Array<{ line: number; code: string }> };
    expect(report.written).toBe(false);
    expect(report.problems.map((p) => [p.line, p.code])).toEqual(
      expect.arrayContaining([
        [3, 'username_invalid'],
        [3, 'hash_invalid'],
        [4, 'right_unknown'],
        [5, 'username_duplicate'],
        [2, 'main_missing'],
      ]),
    );
    expect(await counts()).toEqual(before);
  });

  it('takes JSON through the operators’ API, preview first', async () => {
    const file = JSON.stringify([
      {
        username: 'd.haupt',
        displayName: 'Dora',
        company: 'Druckerei',
        main: true,
        rights: [],
        passwordHash: sha256Hash('druck', 'd'),
        products: ['Portal'],
      },
      {
        username: 'd.neben',
        displayName: 'Dirk',
        company: 'Druckerei',
        main: false,
        rights: ['read_areas'],
        passwordHash: sha256Hash('druck2', 'd'),
        products: [],
      },
    ]);
    const post = (dryRun: boolean): Promise<Response> =>
      fetch(`${server.url}/api/admin/legacy/import?format=json&dryRun=${dryRun}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: admin.cookie ?? '',
          'x-csrf-token': admin.csrfToken ?? '',
          'x-forwarded-for': admin.ip,
        },
        body: file,
      });
    const preview = (await (await post(true)).json()) as { written: boolean; accounts: { create: number } };
    expect(preview).toMatchObject({ written: false, accounts: { create: 2 } });
    const done = (await (await post(false)).json()) as { written: boolean };
    expect(done.written).toBe(true);
    const log = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?action=migration.imported');
    expect(log.body.items.length).toBeGreaterThan(0);
    const stranger = new ApiClient(server, nextIp());
    expect((await stranger.post('/api/admin/legacy/import?format=json&dryRun=true', [])).status).toBe(401);
  });
});

describe('legacy login and waves', () => {
  it('logs in by user name and old password (bcrypt and salted SHA-256) as before', async () => {
    const anna = new ApiClient(server, nextIp());
    const login = await anna.post<{ user: { name: string }; csrfToken: string }>('/api/auth/legacy-login', {
      username: 'A.Chef',
      password: 'altes Passwort 1',
    });
    expect(login.status).toBe(200);
    expect(login.body.user.name).toBe('Anna Chef');
    anna.csrfToken = login.body.csrfToken;
    expect((await anna.get('/api/legacy/status')).body).toMatchObject({ legacy: true, isMain: true, canSwitch: false });

    const lars = new ApiClient(server, nextIp());
    expect((await lars.post('/api/auth/legacy-login', { username: 'a.lager', password: 'Lager-2019' })).status).toBe(
      200,
    );
    const wrong = await new ApiClient(server, nextIp()).post<{ error: { code: string } }>('/api/auth/legacy-login', {
      username: 'a.lager',
      password: 'Lager-2020',
    });
    const unknown = await new ApiClient(server, nextIp()).post<{ error: { code: string } }>('/api/auth/legacy-login', {
      username: 'niemand',
      password: 'Lager-2020',
    });
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'invalid_credentials']);
    expect([unknown.status, unknown.body.error.code]).toEqual([401, 'invalid_credentials']);
  });

  it('puts a company into a wave; once started, its accounts see that they can switch', async () => {
    const wave = await admin.post<{ id: string }>('/api/admin/migration/waves', { name: 'Welle 1' });
    expect(wave.status).toBe(200);
    expect(
      (await admin.post(`/api/admin/migration/waves/${wave.body.id}/companies`, { companies: ['autohaus alt'] }))
        .status,
    ).toBe(200);
    const anna = new ApiClient(server, nextIp());
    await anna.post('/api/auth/legacy-login', { username: 'a.chef', password: 'altes Passwort 1' });
    expect((await anna.get('/api/legacy/status')).body).toMatchObject({ canSwitch: false });
    await admin.post(`/api/admin/migration/waves/${wave.body.id}/start`);
    expect((await anna.get('/api/legacy/status')).body).toMatchObject({ canSwitch: true, isMain: true });
    // Bernd's company is in no wave: he logs in as before, without the notice.
    const bernd = new ApiClient(server, nextIp());
    expect(
      (await bernd.post('/api/auth/legacy-login', { username: 'b.chef', password: 'Brot und Butter' })).status,
    ).toBe(200);
    expect((await bernd.get('/api/legacy/status')).body).toMatchObject({ canSwitch: false });
    const waves = await admin.get<{
      items: Array<{ name: string; companies: number; accounts: number; notified: number }>;
    }>('/api/admin/migration/waves');
    expect(waves.body.items.find((w) => w.name === 'Welle 1')).toMatchObject({
      companies: 1,
      accounts: 3,
      notified: 1,
    });
  });
});

describe('the main account’s wizard', () => {
  async function anna(): Promise<ApiClient> {
    const client = new ApiClient(server, nextIp());
    const login = await client.post<{ csrfToken: string }>('/api/auth/legacy-login', {
      username: 'a.chef',
      password: 'altes Passwort 1',
    });
    expect(login.status).toBe(200);
    client.csrfToken = login.body.csrfToken;
    return client;
  }

  it('is only for the main account, and refuses missing and doubled addresses', async () => {
    const lars = new ApiClient(server, nextIp());
    const login = await lars.post<{ csrfToken: string }>('/api/auth/legacy-login', {
      username: 'a.lager',
      password: 'Lager-2019',
    });
    lars.csrfToken = login.body.csrfToken;
    expect((await lars.get('/api/legacy/wizard')).status).toBe(403);

    const main = await anna();
    const list = await main.get<{ items: Array<{ userId: string; username: string }> }>('/api/legacy/wizard');
    const id = (u: string): string => list.body.items.find((a) => a.username === u)?.userId ?? '';
    expect(list.body.items.map((a) => a.username)).toEqual(['a.chef', 'a.buero', 'a.lager']);
    const wizard = (accounts: Array<{ userId: string; email: string; redirectToMain?: boolean }>) =>
      main.post<{ error: { code: string } }>('/api/legacy/wizard', { accounts });

    expect((await wizard([{ userId: id('a.chef'), email: 'anna@autohaus-alt.example' }])).body.error.code).toBe(
      'accounts_incomplete',
    );
    const doubled = await wizard([
      { userId: id('a.chef'), email: 'anna@autohaus-alt.example' },
      { userId: id('a.lager'), email: 'lager@autohaus-alt.example' },
      { userId: id('a.buero'), email: 'LAGER@autohaus-alt.example' },
    ]);
    expect([doubled.status, doubled.body.error.code]).toEqual([409, 'email_duplicate']);
    // An address with an account elsewhere in KIS is not named as taken (test/security/enumeration).
    expect((await main.get('/api/legacy/email-check?email=admin%40kis.test')).body).toEqual({
      available: true,
      reason: null,
    });
    const plusMain = await wizard([
      { userId: id('a.chef'), email: 'anna+chef@autohaus-alt.example' },
      { userId: id('a.lager'), email: 'lager@autohaus-alt.example' },
      { userId: id('a.buero'), email: 'buero@autohaus-alt.example' },
    ]);
    expect(plusMain.body.error.code).toBe('main_account_plus_address');
    // A redirect only for an address the company controls: not for a stranger's mailbox.
    const foreign = await wizard([
      { userId: id('a.chef'), email: 'anna@autohaus-alt.example' },
      { userId: id('a.lager'), email: 'lager@anderswo.example', redirectToMain: true },
      { userId: id('a.buero'), email: 'buero@autohaus-alt.example' },
    ]);
    expect([foreign.status, foreign.body.error.code]).toEqual([400, 'redirect_not_allowed']);
    // Nothing changed: every account still signs in by user name.
    expect(
      (await main.get<{ items: Array<{ state: string }> }>('/api/legacy/wizard')).body.items.every(
        (a) => a.state === 'legacy',
      ),
    ).toBe(true);

    const done = await wizard([
      { userId: id('a.chef'), email: 'anna@autohaus-alt.example' },
      { userId: id('a.lager'), email: 'anna+lager@autohaus-alt.example', redirectToMain: true },
      { userId: id('a.buero'), email: 'buero@autohaus-alt.example' },
    ]);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
  });

  it('ends the user-name login with the guidance to use the e-mail address', async () => {
    const refused = await new ApiClient(server, nextIp()).post<{ error: { code: string } }>('/api/auth/legacy-login', {
      username: 'a.buero',
      password: 'Buero!',
    });
    expect([refused.status, refused.body.error.code]).toEqual([409, 'legacy_migrated']);
    // A wrong password still says nothing about the switch.
    const wrong = await new ApiClient(server, nextIp()).post<{ error: { code: string } }>('/api/auth/legacy-login', {
      username: 'a.buero',
      password: 'falsch',
    });
    expect(wrong.body.error.code).toBe('invalid_credentials');
  });
});
