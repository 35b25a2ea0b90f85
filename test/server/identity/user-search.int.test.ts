import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { customer } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

interface UserPage {
  items: Array<{ email: string; name: string }>;
  total: number;
}

let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;

async function search(q: string, page = 1, pageSize = 25): Promise<UserPage> {
  const res = await admin.get<UserPage>(
    `/api/admin/users?q=${encodeURIComponent(q)}&page=${page}&pageSize=${pageSize}`,
  );
  expect(res.status).toBe(200);
  return res.body;
}

const emails = (page: UserPage): string[] => page.items.map((u) => u.email).sort();

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
  for (const [email, name] of [
    ['anna.gross@kunde.example', 'Anna Groß'],
    ['bert@kunde.example', 'Bert Großmann'],
    ['carla@andere.example', 'Carla Klein'],
    ['dora@andere.example', 'Dora Kleinert'],
    ['info+lager@kunde.example', 'Lager Nord'],
  ] as const) {
    const user = await customer(server, smtp, email);
    expect((await user.request('PATCH', '/api/account', { name })).status).toBe(200);
  }
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

describe("the operator's user search", () => {
  it('finds a part of a name in any case, umlauts included', async () => {
    expect(emails(await search('GROß'))).toEqual(['anna.gross@kunde.example', 'bert@kunde.example']);
    expect(emails(await search('großmann'))).toEqual(['bert@kunde.example']);
    expect(emails(await search('kleinert'))).toEqual(['dora@andere.example']);
  });

  it('finds a part of an address, plus-addresses included', async () => {
    expect(emails(await search('gross@'))).toEqual(['anna.gross@kunde.example']);
    expect(emails(await search('+lager'))).toEqual(['info+lager@kunde.example']);
    expect(emails(await search('andere.example'))).toEqual(['carla@andere.example', 'dora@andere.example']);
  });

  it('takes searches shorter than three characters and regular-expression characters as text', async () => {
    expect(emails(await search('kl'))).toEqual(['carla@andere.example', 'dora@andere.example']);
    expect((await search('k.unde')).total).toBe(0);
    expect((await search('.*')).total).toBe(0);
  });

  it('pages the matches newest first with their total', async () => {
    const first = await search('kunde', 1, 2);
    const second = await search('kunde', 2, 2);
    expect(first.total).toBe(3);
    expect(first.items.map((u) => u.email)).toEqual(['info+lager@kunde.example', 'bert@kunde.example']);
    expect(second.items.map((u) => u.email)).toEqual(['anna.gross@kunde.example']);
  });

  it('finds a person by a new name at once, and no longer by the old one', async () => {
    const carla = await customer(server, smtp, 'emil@dritte.example');
    expect((await search('Emilia Zander')).total).toBe(0);
    expect((await carla.request('PATCH', '/api/account', { name: 'Emilia Zander' })).status).toBe(200);
    expect(emails(await search('zander'))).toEqual(['emil@dritte.example']);
    expect((await carla.request('PATCH', '/api/account', { name: 'Emilia Yilmaz' })).status).toBe(200);
    expect((await search('zander')).total).toBe(0);
    expect(emails(await search('yilmaz'))).toEqual(['emil@dritte.example']);
  });

  it('finds people written by an earlier KIS once it has started again', async () => {
    const mongo = await MongoClient.connect(server.mongoUri);
    try {
      // A user as the previous KIS wrote them (keys inside the user), the new keys not yet built.
      await mongo
        .db()
        .collection('users')
        .insertOne({
          email: 'fritz@alt.example',
          emailLower: 'fritz@alt.example',
          name: 'Fritz Altbestand',
          language: 'de',
          role: 'customer',
          status: 'active',
          rights: [],
          allowedIpRanges: [],
          createdAt: new Date('2020-01-01T00:00:00Z'),
          nameGrams: ['fri', 'rit', 'itz'],
          emailGrams: ['fri', 'rit', 'itz'],
        });
      await mongo
        .db()
        .collection('schema_migrations')
        .deleteOne({ _id: '2026-12-user-search-keys' as never });
    } finally {
      await mongo.close();
    }
    expect((await search('altbestand')).total).toBe(0);
    const again = await startServer({ env: { SMTP_URL: smtp.url, MONGODB_URI: server.mongoUri } });
    try {
      expect((await fetch(`${again.url}/healthz`)).status).toBe(200);
    } finally {
      await again.stop();
    }
    expect(emails(await search('altbestand'))).toEqual(['fritz@alt.example']);
    expect(emails(await search('kunde'))).toEqual([
      'anna.gross@kunde.example',
      'bert@kunde.example',
      'info+lager@kunde.example',
    ]);
    const after = await MongoClient.connect(server.mongoUri);
    try {
      const fritz = await after.db().collection('users').findOne({ emailLower: 'fritz@alt.example' });
      expect(fritz).not.toHaveProperty('nameGrams');
      expect(fritz).not.toHaveProperty('emailGrams');
    } finally {
      await after.close();
    }
  });
});
