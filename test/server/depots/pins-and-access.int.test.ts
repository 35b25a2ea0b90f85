import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, ClientToServerEvents, DepotChangedPayload, ServerToClientEvents } from '@kis/protocol/realtime';
import type { CommandView, DepotView, HistoryEntryView, PinView } from '@kis/protocol/api';
import type { SimulatedDepot } from '../../../scripts/simulator/depot.js';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { registerDepot, simulate } from '../../helpers/depots.js';
import { acceptInvitation, createSubAccount, makeOrganization, type Org } from '../../helpers/organizations.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
const running: SimulatedDepot[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  await server.stop();
  await smtp.close();
});

async function history(client: ApiClient, id: string): Promise<HistoryEntryView[]> {
  return (await client.get<{ items: HistoryEntryView[] }>(`/api/depots/${id}/history?pageSize=200`)).body.items;
}

describe('PINs, overdue keys and manual entries', () => {
  let depotId: string;
  let depot: SimulatedDepot;

  beforeAll(async () => {
    const { provisioning } = await registerDepot(admin, { heartbeatSeconds: 1 });
    depotId = provisioning.depotId;
    depot = simulate(provisioning);
    running.push(depot);
    await depot.start();
    await eventually(async () => (await admin.get<DepotView>(`/api/depots/${depotId}`)).body.online, 5000, 'online');
  });

  it('sends a new PIN to the depot, and the history says who took the key with it', async () => {
    const created = await admin.post<{ pin: PinView; digits: string }>(`/api/depots/${depotId}/pins`, {
      comp: 2,
      label: 'Hausmeister Meyer',
      digits: 6,
    });
    expect(created.status).toBe(200);
    expect(created.body.digits).toMatch(/^\d{6}$/);
    const { pinId } = created.body.pin;
    await eventually(
      async () =>
        (await admin.get<{ items: PinView[] }>(`/api/depots/${depotId}/pins`)).body.items.find((p) => p.pinId === pinId)
          ?.state === 'active',
      5000,
      'PIN active on the depot',
    );
    expect(depot.hasPin(pinId)).toBe(true);
    // The list never shows digits.
    expect(JSON.stringify((await admin.get(`/api/depots/${depotId}/pins`)).body)).not.toContain(created.body.digits);

    expect(depot.enterPin('0000000000')).toBeUndefined();
    const opened = depot.enterPin(created.body.digits);
    expect(opened).toEqual({ pinId, comp: 2 });
    depot.takeKey(2, pinId);
    await eventually(() => depot.pendingEvents.length === 0, 5000, 'events stored');

    const entries = await history(admin, depotId);
    const taken = entries.find((e) => e.kind === 'key_removed' && e.source === 'depot');
    expect(taken).toMatchObject({ comp: 2, pinId, pinLabel: 'Hausmeister Meyer' });
    expect(entries.find((e) => e.kind === 'pin_accepted')).toMatchObject({ pinLabel: 'Hausmeister Meyer' });
    expect(entries.some((e) => e.kind === 'pin_rejected')).toBe(true);
    const pins = (await admin.get<{ items: PinView[] }>(`/api/depots/${depotId}/pins`)).body.items;
    expect(pins.find((p) => p.pinId === pinId)?.usesSeen).toBe(1);

    // Shown again on demand, and that is audited.
    const revealed = await admin.post<{ digits: string }>(`/api/depots/${depotId}/pins/${pinId}/reveal`);
    expect(revealed.body.digits).toBe(created.body.digits);
    const log = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?action=depot.pin_revealed');
    expect(log.body.items.length).toBeGreaterThan(0);

    // Revoked: the depot forgets it and the PIN no longer opens anything.
    expect((await admin.request('DELETE', `/api/depots/${depotId}/pins/${pinId}`)).status).toBe(200);
    await eventually(() => !depot.hasPin(pinId), 5000, 'PIN revoked on the depot');
    await eventually(
      async () =>
        (await admin.get<{ items: PinView[] }>(`/api/depots/${depotId}/pins`)).body.items.find((p) => p.pinId === pinId)
          ?.state === 'revoked',
      5000,
      'PIN revoked',
    );
    expect(depot.enterPin(created.body.digits)).toBeUndefined();
  });

  it('raises an overdue alarm when a key taken under a PIN is not back by its return time', async () => {
    const returnBy = new Date(Date.now() + 2500).toISOString();
    const created = await admin.post<{ pin: PinView; digits: string }>(`/api/depots/${depotId}/pins`, {
      comp: 3,
      label: 'Monteur Schulz',
      returnBy,
    });
    const { pinId } = created.body.pin;
    await eventually(() => depot.hasPin(pinId), 5000, 'PIN on the depot');
    depot.enterPin(created.body.digits);
    depot.takeKey(3, pinId);
    await eventually(
      async () =>
        (await admin.get<DepotView>(`/api/depots/${depotId}`)).body.alarms.some((a) => a.kind === 'key_overdue'),
      8000,
      'overdue alarm',
    );
    const v = (await admin.get<DepotView>(`/api/depots/${depotId}`)).body;
    expect(v.alarms.find((a) => a.kind === 'key_overdue')).toMatchObject({ comp: 3, pinId });
    expect(Date.parse(v.alarms.find((a) => a.kind === 'key_overdue')?.since ?? '')).toBeGreaterThanOrEqual(
      Date.parse(returnBy),
    );

    depot.returnKey(3, pinId);
    await eventually(
      async () => (await admin.get<DepotView>(`/api/depots/${depotId}`)).body.alarms.length === 0,
      5000,
      'alarm cleared by the return',
    );
    expect(
      (await history(admin, depotId)).some((e) => e.kind === 'key_overdue' && e.pinLabel === 'Monteur Schulz'),
    ).toBe(true);
  });

  it('keeps manual entries in the same history, with who made them', async () => {
    const res = await admin.post(`/api/depots/${depotId}/history`, {
      kind: 'handover',
      comp: 1,
      text: 'Schlüssel persönlich an Frau Adam übergeben',
    });
    expect(res.status).toBe(200);
    const entry = (await history(admin, depotId)).find((e) => e.kind === 'handover');
    expect(entry).toMatchObject({
      source: 'user',
      comp: 1,
      info: 'Schlüssel persönlich an Frau Adam übergeben',
      userName: 'admin@kis.test',
    });
    expect((await admin.post(`/api/depots/${depotId}/history`, { kind: 'handover', text: '' })).status).toBe(400);
  });

  it('pages the history and filters it by kind and compartment', async () => {
    const first = await admin.get<{ items: HistoryEntryView[]; nextCursor: string | null }>(
      `/api/depots/${depotId}/history?pageSize=3`,
    );
    expect(first.body.items).toHaveLength(3);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await admin.get<{ items: HistoryEntryView[] }>(
      `/api/depots/${depotId}/history?pageSize=3&cursor=${first.body.nextCursor}`,
    );
    const ids = new Set(first.body.items.map((e) => e.id));
    expect(second.body.items.some((e) => ids.has(e.id))).toBe(false);
    expect(Date.parse(second.body.items[0]?.at ?? '')).toBeLessThanOrEqual(Date.parse(first.body.items[2]?.at ?? ''));

    const comp3 = await admin.get<{ items: HistoryEntryView[] }>(
      `/api/depots/${depotId}/history?comp=3&kind=key_removed`,
    );
    expect(comp3.body.items.length).toBeGreaterThan(0);
    expect(comp3.body.items.every((e) => e.comp === 3 && e.kind === 'key_removed')).toBe(true);
    const future = await admin.get<{ items: HistoryEntryView[] }>(
      `/api/depots/${depotId}/history?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    expect(future.body.items).toEqual([]);
  });
});

describe('who may see and operate a depot', () => {
  let acme: { org: Org; main: ApiClient };
  let other: { org: Org; main: ApiClient };
  let sub: ApiClient;
  let subId: string;
  let depotId: string;

  beforeAll(async () => {
    acme = await makeOrganization(server, smtp, admin, 'Acme GmbH', 'chefin@acme.example');
    other = await makeOrganization(server, smtp, admin, 'Andere AG', 'boss@andere.example');
    subId = await createSubAccount(acme.main, acme.org.id, {
      email: 'lager@acme.example',
      name: 'Lager',
      rights: [],
      redirectToMain: false,
    });
    sub = await acceptInvitation(server, smtp, 'lager@acme.example');
    depotId = (await registerDepot(admin, { name: 'Acme Tor 1', organizationId: acme.org.id })).provisioning.depotId;
  });

  it('shows a company’s depot to its main account and nobody else’s', async () => {
    expect((await acme.main.get<{ items: DepotView[] }>('/api/depots')).body.items.map((d) => d.depotId)).toEqual([
      depotId,
    ]);
    expect((await acme.main.get<DepotView>(`/api/depots/${depotId}`)).body.role).toBe('manager');
    expect((await other.main.get<{ items: DepotView[] }>('/api/depots')).body.items).toEqual([]);
    // Someone else's depot looks exactly like one that does not exist.
    const foreign = await other.main.get(`/api/depots/${depotId}`);
    const missing = await other.main.get('/api/depots/00000000000000ff');
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual(missing.body);
  });

  it('lets the main account grant a sub-account a role, which decides what it may do', async () => {
    expect((await sub.get(`/api/depots/${depotId}`)).status).toBe(404);
    expect((await acme.main.request('PUT', `/api/depots/${depotId}/grants/${subId}`, { role: 'viewer' })).status).toBe(
      200,
    );
    expect((await sub.get<DepotView>(`/api/depots/${depotId}`)).body.role).toBe('viewer');
    expect((await sub.get(`/api/depots/${depotId}/history`)).status).toBe(200);
    const refused = await sub.post(`/api/depots/${depotId}/pins`, { comp: 1, label: 'x' });
    expect(refused.status).toBe(403);
    expect((await sub.post(`/api/depots/${depotId}/commands`, { op: 'open', comp: 1 })).status).toBe(403);

    expect(
      (await acme.main.request('PUT', `/api/depots/${depotId}/grants/${subId}`, { role: 'operator' })).status,
    ).toBe(200);
    const command = await sub.post<CommandView>(`/api/depots/${depotId}/commands`, { op: 'open', comp: 1 });
    expect(command.status).toBe(200);
    expect(command.body.state).toBe('queued');
    const grants = await acme.main.get<{ items: Array<{ email: string; role: string }> }>(
      `/api/depots/${depotId}/grants`,
    );
    expect(grants.body.items).toEqual([expect.objectContaining({ email: 'lager@acme.example', role: 'operator' })]);
    // A sub-account cannot hand out access, and another company cannot grant on this depot.
    expect((await sub.request('PUT', `/api/depots/${depotId}/grants/${subId}`, { role: 'manager' })).status).toBe(403);
    expect((await other.main.request('PUT', `/api/depots/${depotId}/grants/${subId}`, { role: 'viewer' })).status).toBe(
      404,
    );

    expect((await acme.main.request('DELETE', `/api/depots/${depotId}/grants/${subId}`)).status).toBe(200);
    expect((await sub.get(`/api/depots/${depotId}`)).status).toBe(404);
  });

  it('sends live news of a depot to a granted sub-account, and stops the moment the grant is taken back', async () => {
    expect((await acme.main.request('PUT', `/api/depots/${depotId}/grants/${subId}`, { role: 'viewer' })).status).toBe(
      200,
    );
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, {
      transports: ['websocket'],
      reconnection: false,
      extraHeaders: { cookie: sub.cookie ?? '', 'x-forwarded-for': sub.ip },
      auth: { csrfToken: sub.csrfToken, identity: 0 },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const watched = (await socket.timeout(5000).emitWithAck('depots:watch', {})) as Ack<Array<{ depotId: string }>>;
      expect(watched.ok && watched.value.map((v) => v.depotId)).toEqual([depotId]);
      // A dashboard page names its depots: the grant counts there too, with the role it gives.
      const named = (await socket
        .timeout(5000)
        .emitWithAck('depots:watch', { depotIds: [depotId, 'ffffffffffffffff'] })) as Ack<
        Array<{ depotId: string; role: string }>
      >;
      expect(named.ok && named.value.map((v) => [v.depotId, v.role])).toEqual([[depotId, 'viewer']]);
      const changes: DepotChangedPayload[] = [];
      socket.on('depot:changed', (c) => changes.push(c));
      await admin.post(`/api/depots/${depotId}/history`, { kind: 'note', text: 'Schloss geölt' });
      await eventually(() => changes.length === 1, 5000, 'news of the manual entry');
      expect(changes[0]).toMatchObject({ depotId, history: true });

      expect((await acme.main.request('DELETE', `/api/depots/${depotId}/grants/${subId}`)).status).toBe(200);
      await admin.post(`/api/depots/${depotId}/history`, { kind: 'note', text: 'Noch eine Notiz' });
      await new Promise((r) => setTimeout(r, 500));
      expect(changes).toHaveLength(1);
      const again = (await socket.timeout(5000).emitWithAck('depots:watch', {})) as Ack<unknown[]>;
      expect(again).toEqual({ ok: true, value: [] });
      expect(await socket.timeout(5000).emitWithAck('depots:watch', { depotIds: [depotId] })).toEqual({
        ok: true,
        value: [],
      });
    } finally {
      socket.close();
    }
  });

  it('keeps registering, rekeying and deleting depots to operators', async () => {
    expect((await acme.main.post('/api/depots', { name: 'Eigenes', compartments: 2 })).status).toBe(403);
    expect((await acme.main.post(`/api/depots/${depotId}/rekey`)).status).toBe(403);
    expect((await acme.main.request('DELETE', `/api/depots/${depotId}`)).status).toBe(403);
  });
});
