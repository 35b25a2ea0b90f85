import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { download } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { acceptInvitation, createSubAccount, makeOrganization, type Org } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const DAY = 86_400_000;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let acme: { org: Org; main: ApiClient };
let other: { org: Org; main: ApiClient };
let sub: ApiClient;
let subId: string;
/** Depot ids by name. */
const depots = new Map<string, string>();

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
  acme = await makeOrganization(server, smtp, admin, 'Acme GmbH', 'chefin@acme-flotte.example');
  other = await makeOrganization(server, smtp, admin, 'Andere AG', 'boss@andere-flotte.example');
  subId = await createSubAccount(acme.main, acme.org.id, {
    email: 'lager@acme-flotte.example',
    name: 'Lager',
    rights: [],
    redirectToMain: false,
  });
  sub = await acceptInvitation(server, smtp, 'lager@acme-flotte.example');
  for (const [name, organizationId] of [
    ['Acme Tor 2', acme.org.id],
    ['Acme Halle', acme.org.id],
    ['Andere Lager', other.org.id],
    ['Zentrale', undefined],
  ] as const) {
    const id = (await registerDepot(admin, { name, ...(organizationId ? { organizationId } : {}) })).depot.depotId;
    depots.set(name, id);
    for (const [i, kind] of (['note', 'handover', 'note'] as const).entries()) {
      const res = await admin.post(`/api/depots/${id}/history`, { kind, comp: 1, text: `${name} – Eintrag ${i + 1}` });
      expect(res.status).toBe(200);
    }
  }
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

/** The last 30 days up to a minute from now, as the depot list offers it. */
function lastMonth(): { from: string; to: string } {
  const now = Date.now();
  return { from: new Date(now - 30 * DAY).toISOString(), to: new Date(now + 60_000).toISOString() };
}

async function fleetCsv(
  client: ApiClient,
  query: Record<string, string>,
): Promise<{ status: number; headers: Headers; rows: Array<Record<string, string>>; text: string }> {
  const got = await download(client, `/api/depots/history/export?${new URLSearchParams({ format: 'csv', ...query })}`);
  const text = got.bytes.toString();
  const rows =
    got.status === 200
      ? (parse(got.bytes, { bom: true, delimiter: ';', columns: true }) as Array<Record<string, string>>)
      : [];
  return { status: got.status, headers: got.headers, rows, text };
}

describe('the fleet history export', () => {
  it('gives a company every entry of its own depots, by depot then time, and nothing of others', async () => {
    const got = await fleetCsv(acme.main, lastMonth());
    expect(got.status).toBe(200);
    expect(got.headers.get('content-disposition')).toMatch(/filename="verlauf-alle-depots-\d{4}-\d{2}-\d{2}\.csv"/);
    // Streamed without a count first: no total announced.
    expect(got.headers.get('x-export-rows')).toBeNull();
    expect(Object.keys(got.rows[0] ?? {})).toEqual([
      'Depot',
      'Depot-ID',
      'Zeit',
      'Quelle',
      'Ereignis',
      'Fach',
      'PIN für',
      'Person',
      'Info',
    ]);
    const mine = got.rows.filter((r) => r.Info?.includes('Eintrag'));
    expect(mine.map((r) => r.Info)).toEqual([
      'Acme Halle – Eintrag 1',
      'Acme Halle – Eintrag 2',
      'Acme Halle – Eintrag 3',
      'Acme Tor 2 – Eintrag 1',
      'Acme Tor 2 – Eintrag 2',
      'Acme Tor 2 – Eintrag 3',
    ]);
    expect(mine[0]).toMatchObject({ Depot: 'Acme Halle', 'Depot-ID': depots.get('Acme Halle'), Ereignis: 'Notiz' });
    expect(mine[0]?.Zeit).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(new Set(got.rows.map((r) => r.Depot))).toEqual(new Set(['Acme Halle', 'Acme Tor 2']));
    for (const foreign of ['Andere Lager', 'Zentrale']) {
      expect(got.text).not.toContain(foreign);
      expect(got.text).not.toContain(depots.get(foreign));
    }

    const others = await fleetCsv(other.main, lastMonth());
    expect(new Set(others.rows.map((r) => r.Depot))).toEqual(new Set(['Andere Lager']));
  });

  it('gives an operator every depot, filtered by kind and range, in English on request', async () => {
    const all = await fleetCsv(admin, { ...lastMonth(), kind: 'handover', lang: 'en', delimiter: ',' });
    expect(all.status).toBe(200);
    const rows = parse(Buffer.from(all.text), { bom: true, delimiter: ',', columns: true }) as Array<
      Record<string, string>
    >;
    expect(Object.keys(rows[0] ?? {}).slice(0, 3)).toEqual(['Depot', 'Depot ID', 'Time']);
    expect(rows.map((r) => r.Info)).toEqual([
      'Acme Halle – Eintrag 2',
      'Acme Tor 2 – Eintrag 2',
      'Andere Lager – Eintrag 2',
      'Zentrale – Eintrag 2',
    ]);
    // A range before anything happened: the heading only.
    const before = await fleetCsv(admin, {
      from: new Date(Date.now() - 60 * DAY).toISOString(),
      to: new Date(Date.now() - 30 * DAY).toISOString(),
    });
    expect(before.status).toBe(200);
    expect(before.rows).toEqual([]);
    const pdf = await download(
      admin,
      `/api/depots/history/export?${new URLSearchParams({ format: 'pdf', ...lastMonth() })}`,
    );
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('refuses a missing, reversed or too long range with a message that says which', async () => {
    const now = Date.now();
    const iso = (ms: number): string => new Date(ms).toISOString();
    const missing = await acme.main.get<{ error: { code: string; message: string } }>(
      `/api/depots/history/export?format=csv&from=${iso(now - DAY)}`,
    );
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^querystring\.to: /);
    const reversed = await acme.main.get<{ error: { code: string; message: string } }>(
      `/api/depots/history/export?format=csv&from=${iso(now)}&to=${iso(now - DAY)}`,
    );
    expect(reversed.status).toBe(400);
    expect(reversed.body.error).toEqual({ code: 'invalid', message: 'querystring.to: must be after from' });
    const long = await acme.main.get<{ error: { code: string; message: string } }>(
      `/api/depots/history/export?format=csv&from=${iso(now - 367 * DAY)}&to=${iso(now)}`,
    );
    expect(long.status).toBe(400);
    expect(long.body.error).toEqual({
      code: 'invalid',
      message: 'querystring.to: must be at most 366 days after from',
    });
    expect((await fleetCsv(acme.main, { from: iso(now - 366 * DAY), to: iso(now) })).status).toBe(200);
  });

  it('is forbidden to an account without a right to depots, and a grant opens that depot only', async () => {
    const refused = await fleetCsv(sub, lastMonth());
    expect(refused.status).toBe(403);
    expect(
      (await acme.main.request('PUT', `/api/depots/${depots.get('Acme Tor 2')}/grants/${subId}`, { role: 'viewer' }))
        .status,
    ).toBe(200);
    const granted = await fleetCsv(sub, lastMonth());
    expect(granted.status).toBe(200);
    expect(new Set(granted.rows.map((r) => r.Depot))).toEqual(new Set(['Acme Tor 2']));
    const anonymous = await fetch(`${server.url}/api/depots/history/export?format=csv`);
    expect(anonymous.status).toBe(401);
  });

  it('is in the audit log: who exported how many depots', async () => {
    expect((await fleetCsv(acme.main, lastMonth())).status).toBe(200);
    const log = await admin.get<{ items: Array<{ actorEmail: string | null; target: string | null }> }>(
      '/api/admin/audit?action=depot.fleet_history_exported&pageSize=50',
    );
    expect(log.status).toBe(200);
    expect(log.body.items.some((e) => e.actorEmail === 'chefin@acme-flotte.example' && e.target === '2 depots')).toBe(
      true,
    );
  });
});
