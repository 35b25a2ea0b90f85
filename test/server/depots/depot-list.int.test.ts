import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DepotView } from '@kis/protocol/api';
import type { Ack } from '@kis/protocol/realtime';
import { type ApiClient, createFirstAdmin } from '../../helpers/api.js';
import { connectSocket } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { makeOrganization } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

type Page = { items: Array<DepotView & { role: string }>; total: number };

async function list(client: ApiClient, query = ''): Promise<{ names: string[]; total: number; page: Page }> {
  const res = await client.get<Page>(`/api/depots?pageSize=100${query}`);
  expect(res.status).toBe(200);
  return { names: res.body.items.map((d) => d.name), total: res.body.total, page: res.body };
}

describe('the depot list', () => {
  let ids: Record<string, string>;
  let north: ApiClient;
  let west: ApiClient;

  beforeAll(async () => {
    const a = await makeOrganization(server, smtp, admin, 'Nord GmbH', 'chef@nord.example');
    const b = await makeOrganization(server, smtp, admin, 'West AG', 'chef@west.example');
    north = a.main;
    west = b.main;
    ids = {};
    for (const [name, organizationId] of [
      ['Werkstatt', b.org.id],
      ['Lager Süd', a.org.id],
      ['Büro Mitte', undefined],
      ['Lager Nord', a.org.id],
    ] as const) {
      ids[name] = (await registerDepot(admin, { name, ...(organizationId ? { organizationId } : {}) })).depot.depotId;
    }
    expect((await admin.post(`/api/depots/${ids['Lager Süd']}/status`, { status: 'disabled' })).status).toBe(200);
    const westUser = (await west.get<{ user: { id: string } }>('/api/auth/session')).body.user.id;
    expect(
      (await admin.request('PUT', `/api/depots/${ids['Büro Mitte']}/grants/${westUser}`, { role: 'viewer' })).status,
    ).toBe(200);
  });

  it('shows the operator every depot by name, the disabled one too, a page at a time', async () => {
    const all = await list(admin);
    expect(all).toMatchObject({ names: ['Büro Mitte', 'Lager Nord', 'Lager Süd', 'Werkstatt'], total: 4 });
    expect(all.page.items.find((d) => d.name === 'Lager Süd')).toMatchObject({ status: 'disabled', online: false });
    expect(all.page.items.every((d) => d.role === 'manager')).toBe(true);
    const second = await admin.get<Page>('/api/depots?pageSize=3&page=2');
    expect(second.body.items.map((d) => d.name)).toEqual(['Werkstatt']);
    expect(second.body.total).toBe(4);
  });

  it('finds depots by a piece of their name, place or id, in any case', async () => {
    expect(await list(admin, '&q=lager')).toMatchObject({ names: ['Lager Nord', 'Lager Süd'], total: 2 });
    expect((await list(admin, '&q=SÜD')).names).toEqual(['Lager Süd']);
    expect((await list(admin, '&q=hamburg')).total).toBe(4);
    const id = ids.Werkstatt as string;
    expect((await list(admin, `&q=${id.slice(3, 11).toUpperCase()}`)).names).toEqual(['Werkstatt']);
    expect((await list(admin, '&q=.*')).total).toBe(0);
  });

  it("shows a company its own depots and the ones granted to it, nobody else's", async () => {
    const own = await list(north);
    expect(own).toMatchObject({ names: ['Lager Nord', 'Lager Süd'], total: 2 });
    expect(own.page.items.map((d) => d.role)).toEqual(['manager', 'manager']);
    const granted = await list(west);
    expect(granted).toMatchObject({ names: ['Büro Mitte', 'Werkstatt'], total: 2 });
    expect(granted.page.items.map((d) => d.role)).toEqual(['viewer', 'manager']);
    expect((await list(west, '&q=lager')).total).toBe(0);
  });

  it('lets a socket that watches all depots watch exactly those of the list', async () => {
    const socket = await connectSocket(server, west);
    try {
      const watched = (await socket.timeout(5000).emitWithAck('depots:watch', {})) as Ack<
        Array<{ name: string; role: string }>
      >;
      expect(watched.ok && watched.value.map((v) => [v.name, v.role])).toEqual([
        ['Büro Mitte', 'viewer'],
        ['Werkstatt', 'manager'],
      ]);
    } finally {
      socket.close();
    }
  });
});
