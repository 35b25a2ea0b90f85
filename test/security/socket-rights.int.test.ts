import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '@kis/protocol/realtime';
import type { SimulatedDepot } from '../../scripts/simulator/depot.js';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { connectSocket } from '../helpers/areas.js';
import { registerDepot, simulate } from '../helpers/depots.js';
import { YClient } from '../helpers/documents.js';
import { acceptInvitation, createSubAccount, makeOrganization, type Org } from '../helpers/organizations.js';
import { eventually, startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Issue 20, finding "sockets keep receiving after rights are taken away": a change of a user's
 * rights, status, allowed addresses or depot grants must take effect on the sockets that are open
 * at that moment, not only on their next request. A socket that only listens sends nothing that
 * would make the server look again.
 */

type KisSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
const nothing = { sync: 0, awareness: 0, update: 0, alarm: 0 };

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let acme: { org: Org; main: ApiClient };
let depotId: string;
let depot: SimulatedDepot;
let docId: string;
const sockets: KisSocket[] = [];

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server);
  acme = await makeOrganization(server, smtp, admin, 'Acme GmbH', 'chef@acme.example');
  const registered = await registerDepot(admin, { name: 'Acme Hof', heartbeatSeconds: 1, organizationId: acme.org.id });
  depotId = registered.provisioning.depotId;
  depot = simulate(registered.provisioning);
  await depot.start();
  await eventually(
    async () => (await admin.get<{ online: boolean }>(`/api/depots/${depotId}`)).body.online,
    5000,
    'online',
  );
  const doc = await acme.main.post<{ id: string }>('/api/documents', { title: 'Dienstplan', forOrganization: true });
  expect(doc.status).toBe(200);
  docId = doc.body.id;
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await depot?.stop();
  await server?.stop();
  await smtp?.close();
});

/** A sub-account of Acme with these rights, signed in. */
async function subAccount(local: string, rights: string[]): Promise<{ client: ApiClient; id: string }> {
  const email = `${local}@acme.example`;
  const id = await createSubAccount(acme.main, acme.org.id, { email, name: local, rights, redirectToMain: false });
  return { client: await acceptInvitation(server, smtp, email), id };
}

/** What one socket has received of the events that carry a depot's or a document's content. */
interface Listener {
  socket: KisSocket;
  editor: YClient;
  got: { sync: number; awareness: number; update: number; alarm: number };
}

/** Connects a socket as a browser tab does: the document open, the company's depots watched. */
async function listen(client: ApiClient): Promise<Listener> {
  const socket = await connectSocket(server, client);
  sockets.push(socket);
  const listener: Listener = { socket, editor: new YClient(socket, docId), got: { ...nothing } };
  socket.on('doc:sync', () => listener.got.sync++);
  socket.on('doc:awareness', () => listener.got.awareness++);
  socket.on('depot:update', () => listener.got.update++);
  socket.on('depot:alarm', () => listener.got.alarm++);
  expect((await listener.editor.open()).ok).toBe(true);
  const watched = (await socket.timeout(5000).emitWithAck('depots:watch', { depotIds: [depotId] })) as Ack<
    Array<{ depotId: string }>
  >;
  expect(watched.ok && watched.value.map((v) => v.depotId)).toEqual([depotId]);
  return listener;
}

/** The main account types a line and moves its cursor; the depot reports a tamper alarm. */
async function activity(writer: YClient): Promise<void> {
  writer.insert(0, `Zeile ${Date.now()}. `);
  expect((await writer.settled()).every((a) => a.ok)).toBe(true);
  const awareness = new Awareness(writer.doc);
  awareness.setLocalState({ user: { name: 'Chef', at: Date.now() } });
  writer.socket.emit('doc:awareness', { docId, update: encodeAwarenessUpdate(awareness, [writer.doc.clientID]) });
  awareness.destroy();
  depot.event('tamper');
}

/**
 * Makes news until the control socket got every kind of it (a tamper alarm is news only when none
 * is raised: the last one is cleared first), then gives the others a moment more.
 */
async function newsSeenBy(control: Listener, others: Listener[], writer: YClient): Promise<void> {
  const cleared = await admin.post(`/api/depots/${depotId}/alarms/clear`, { kind: 'tamper' });
  expect([200, 409]).toContain(cleared.status);
  for (const l of [control, ...others]) l.got = { ...nothing };
  const deadline = Date.now() + 10_000;
  while (!(control.got.sync > 0 && control.got.awareness > 0 && control.got.update > 0 && control.got.alarm > 0)) {
    if (Date.now() > deadline) throw new Error(`the control socket got only ${JSON.stringify(control.got)}`);
    await activity(writer);
    await eventually(() => control.got.sync > 0, 5000, 'the edit at the control socket');
    await new Promise((r) => setTimeout(r, 300));
  }
  // Whatever the others would get was sent in the same breath; a moment more for slow relays.
  await new Promise((r) => setTimeout(r, 300));
}

describe('live sockets after a change of access', () => {
  let writer: YClient;
  let control: Listener;

  beforeAll(async () => {
    const socket = await connectSocket(server, acme.main);
    sockets.push(socket);
    writer = new YClient(socket, docId);
    expect((await writer.open()).ok).toBe(true);
    const kept = await subAccount('kontrolle', ['read_areas', 'edit_texts', 'see_depots']);
    control = await listen(kept.client);
  });

  it('stops document and depot news to a sub-account the moment its rights are taken away', async () => {
    const sub = await subAccount('lager', ['read_areas', 'edit_texts', 'see_depots']);
    const tab = await listen(sub.client);
    await newsSeenBy(control, [tab], writer);
    expect(tab.got.sync).toBeGreaterThan(0);
    expect(tab.got.update).toBeGreaterThan(0);
    expect(tab.got.alarm).toBeGreaterThan(0);

    const changed = await acme.main.request('PATCH', `/api/sub-accounts/${sub.id}`, {
      rights: [],
      password: GOOD_PASSWORD,
    });
    expect(changed.status).toBe(200);
    await newsSeenBy(control, [tab], writer);
    expect(tab.got).toEqual(nothing);
    // The socket itself may stay: it is still a signed-in user's connection.
    expect(tab.socket.connected).toBe(true);
  });

  it('stops depot news the moment a depot grant is taken back, and keeps what the rights still allow', async () => {
    const sub = await subAccount('pforte', ['read_areas']);
    // This one also sees the company's depots by its rights: the grant only let it operate.
    const guard = await subAccount('wache', ['read_areas', 'see_depots']);
    for (const id of [sub.id, guard.id]) {
      const granted = await acme.main.request('PUT', `/api/depots/${depotId}/grants/${id}`, { role: 'operator' });
      expect(granted.status).toBe(200);
    }
    const tab = await listen(sub.client);
    const guardTab = await listen(guard.client);
    for (const id of [sub.id, guard.id]) {
      expect((await acme.main.request('DELETE', `/api/depots/${depotId}/grants/${id}`)).status).toBe(200);
    }
    await newsSeenBy(control, [tab, guardTab], writer);
    expect(tab.got.update).toBe(0);
    expect(tab.got.alarm).toBe(0);
    // Reading the company's texts is still its right: the document keeps coming.
    expect(tab.got.sync).toBeGreaterThan(0);
    expect(guardTab.got.update).toBeGreaterThan(0);
    expect(guardTab.got.alarm).toBeGreaterThan(0);
  });

  it('disconnects the sockets of a sub-account that is disabled or whose allowed addresses exclude it', async () => {
    const disabled = await subAccount('urlaub', ['read_areas', 'see_depots']);
    const fenced = await subAccount('extern', ['read_areas', 'see_depots']);
    const disabledTab = await listen(disabled.client);
    const fencedTab = await listen(fenced.client);

    expect((await acme.main.request('PATCH', `/api/sub-accounts/${disabled.id}`, { status: 'disabled' })).status).toBe(
      200,
    );
    expect(
      (
        await acme.main.request('PUT', `/api/sub-accounts/${fenced.id}/ip-ranges`, {
          ranges: ['198.18.0.0/15'],
          password: GOOD_PASSWORD,
        })
      ).status,
    ).toBe(200);
    await newsSeenBy(control, [disabledTab, fencedTab], writer);
    expect(disabledTab.got).toEqual(nothing);
    expect(fencedTab.got).toEqual(nothing);
    await eventually(() => !disabledTab.socket.connected && !fencedTab.socket.connected, 5000, 'both disconnected');
  });
});
