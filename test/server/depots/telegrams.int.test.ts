import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandView, DepotView, HistoryEntryView } from '@kis/protocol/api';
import type { AckPayload } from '@kis/protocol/telegram';
import type { SimulatedDepot } from '../../../scripts/simulator/depot.js';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { metric, registerDepot, simulate, udpCount, udpProbe } from '../../helpers/depots.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let admin: ApiClient;
const depots: SimulatedDepot[] = [];

function track(depot: SimulatedDepot): SimulatedDepot {
  depots.push(depot);
  return depot;
}

async function view(id: string): Promise<DepotView> {
  return (await admin.get<DepotView>(`/api/depots/${id}`)).body;
}

async function history(id: string, query = ''): Promise<HistoryEntryView[]> {
  return (await admin.get<{ items: HistoryEntryView[] }>(`/api/depots/${id}/history?pageSize=200${query}`)).body.items;
}

function nextAck(depot: SimulatedDepot): Promise<AckPayload> {
  return new Promise((resolve) => depot.once('ack', resolve));
}

beforeAll(async () => {
  server = await startServer();
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await Promise.all(depots.map((d) => d.stop()));
  await server.stop();
});

describe('depot telegrams over UDP', () => {
  it('brings a depot online from its HELLO and heartbeat, and acknowledges both', async () => {
    const { provisioning } = await registerDepot(admin, { compartments: 3 });
    const depot = track(simulate(provisioning, { compartments: 3 }));
    const acked = nextAck(depot);
    await depot.start();
    expect((await acked).ack).toBe(1);
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'depot online');
    const v = await view(provisioning.depotId);
    expect(v.comps).toEqual([
      { n: 1, key: true, locked: true },
      { n: 2, key: true, locked: true },
      { n: 3, key: true, locked: true },
    ]);
    expect(v.door).toBe('closed');
    expect(v.fw).toBe('sim-1.0');
    expect(Date.now() - Date.parse(v.lastSeen ?? '')).toBeLessThan(5000);
    const kinds = (await history(provisioning.depotId)).map((h) => h.kind);
    expect(kinds).toContain('online');
    expect(kinds).toContain('depot_started');
  });

  it('stores each event once however often the depot repeats it, and names it in every ACK', async () => {
    const { provisioning } = await registerDepot(admin);
    const depot = track(simulate(provisioning, { eventRetryMs: 60_000 }));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');

    const acks: AckPayload[] = [];
    depot.on('ack', (a: AckPayload) => acks.push(a));
    const ev = depot.takeKey(2);
    // Repeat before and after the first ACK: a lost ACK looks like this to the server.
    depot.repeatEvent(ev);
    await eventually(() => acks.some((a) => a.ev?.includes(ev)), 5000, 'event acknowledged');
    const sent = new Set<number>();
    for (let i = 0; i < 3; i++) {
      // After the ACK the simulator forgets the event; resend the captured payload as a new telegram.
      depot.send('EVENT', { ev, t: Date.now(), kind: 'key_removed', comp: 2 });
      sent.add(i);
    }
    await eventually(() => acks.filter((a) => a.ev?.includes(ev)).length >= 5, 5000, 'every repeat acknowledged');

    const entries = (await history(provisioning.depotId)).filter((h) => h.ev === ev);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ kind: 'key_removed', comp: 2, source: 'depot' });
    expect((await view(provisioning.depotId)).comps[1]).toMatchObject({ n: 2, key: false });
    expect(depot.pendingEvents).toEqual([]);
  });

  it('drops replayed, tampered, truncated, oversize and random datagrams without an answer, counted by reason', async () => {
    const { provisioning } = await registerDepot(admin);
    const depot = track(simulate(provisioning));
    const captured: Buffer[] = [];
    depot.on('sent', (d: Buffer) => captured.push(d));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');
    const hello = captured[0] as Buffer;

    const before = {
      replay: await udpCount(server, 'replay'),
      bad_tag: await udpCount(server, 'bad_tag'),
      too_short: await udpCount(server, 'too_short'),
      too_long: await udpCount(server, 'too_long'),
      bad_magic: await udpCount(server, 'bad_magic'),
      unknown_depot: await udpCount(server, 'unknown_depot'),
    };
    const probe = await udpProbe(server);
    await probe.send(hello); // replay
    // A fresh seq passes the window; the header is authenticated data, so the tag fails.
    const tampered = Buffer.from(hello);
    tampered.writeUInt32BE(1_000_000, 18);
    await probe.send(tampered);
    await probe.send(hello.subarray(0, 30)); // truncated below header + tag
    await probe.send(Buffer.alloc(1201, 0x4b)); // oversize
    await probe.send(Buffer.from('GET / HTTP/1.1\r\n\r\nhello there, server!!!!!'));
    const unknown = Buffer.from(hello);
    unknown.writeBigUInt64BE(0x1234n, 4);
    await probe.send(unknown);

    await eventually(
      async () => (await udpCount(server, 'unknown_depot')) === before.unknown_depot + 1,
      5000,
      'drops counted',
    );
    expect(await udpCount(server, 'replay')).toBe(before.replay + 1);
    expect(await udpCount(server, 'bad_tag')).toBe(before.bad_tag + 1);
    expect(await udpCount(server, 'too_short')).toBe(before.too_short + 1);
    expect(await udpCount(server, 'too_long')).toBe(before.too_long + 1);
    expect(await udpCount(server, 'bad_magic')).toBe(before.bad_magic + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(probe.answers).toHaveLength(0);
    await probe.close();
    // The depot itself is unharmed.
    const ack = nextAck(depot);
    depot.heartbeat();
    await ack;
  });

  it('marks a depot offline after 3 missed heartbeat intervals, from the actor’s own timer', async () => {
    const { provisioning } = await registerDepot(admin, { heartbeatSeconds: 1 });
    const depot = track(simulate(provisioning));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');
    await depot.stop();
    const lastSeen = Date.parse((await view(provisioning.depotId)).lastSeen ?? '');
    await eventually(async () => !(await view(provisioning.depotId)).online, 10_000, 'offline');
    const offline = (await history(provisioning.depotId, '&kind=offline'))[0];
    expect(offline).toBeDefined();
    // Exact to the second: 3 intervals after the last telegram, not a sweep later.
    const at = Date.parse(offline?.at ?? '');
    expect(at - lastSeen).toBeGreaterThanOrEqual(3000);
    expect(at - lastSeen).toBeLessThan(4000);
  });

  it('retries a command after each telegram until its RESULT arrives, and shows it succeeded', async () => {
    const { provisioning } = await registerDepot(admin, { heartbeatSeconds: 1 });
    const depot = track(simulate(provisioning, { dropCommands: 2 }));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');
    const res = await admin.post<CommandView>(`/api/depots/${provisioning.depotId}/commands`, { op: 'open', comp: 3 });
    expect(res.status).toBe(200);
    const id = res.body.id;
    await eventually(
      async () => {
        const list = (await admin.get<{ items: CommandView[] }>(`/api/depots/${provisioning.depotId}/commands`)).body
          .items;
        return list.find((c) => c.id === id)?.state === 'succeeded';
      },
      10_000,
      'command succeeded',
    );
    const cmd = (await admin.get<{ items: CommandView[] }>(`/api/depots/${provisioning.depotId}/commands`)).body
      .items[0];
    expect(cmd?.attempts).toBeGreaterThanOrEqual(3);
    expect(depot.received.commands).toBeGreaterThanOrEqual(3);
    expect(depot.comps[2]?.locked).toBe(false);
  });

  it('moves a depot to a new key: the old one works until the depot uses the new one, then never again', async () => {
    const { provisioning } = await registerDepot(admin, { heartbeatSeconds: 1 });
    const depot = track(simulate(provisioning));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');
    const rekey = await admin.post<CommandView>(`/api/depots/${provisioning.depotId}/rekey`);
    expect(rekey.status).toBe(200);
    expect(rekey.body.op).toBe('rekey');
    await eventually(
      async () =>
        (await admin.get<{ items: CommandView[] }>(`/api/depots/${provisioning.depotId}/commands`)).body.items[0]
          ?.state === 'succeeded',
      5000,
      'rekey confirmed',
    );
    expect(depot.memory().keyId).toBe(2);
    // The depot now seals with key 2 and is answered.
    const ack = nextAck(depot);
    depot.heartbeat();
    await ack;
    // A telegram under the old key is refused from now on.
    const before = await udpCount(server, 'unknown_key');
    const old = simulate(provisioning, { memory: { epoch: 100, nextEv: 1 } });
    track(old);
    await old.start();
    await eventually(async () => (await udpCount(server, 'unknown_key')) > before, 5000, 'old key refused');
  });

  it('drops every telegram of a disabled depot as from an unknown one, and takes it back when enabled', async () => {
    const { provisioning } = await registerDepot(admin);
    const depot = track(simulate(provisioning));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');
    const res = await admin.post<DepotView>(`/api/depots/${provisioning.depotId}/status`, { status: 'disabled' });
    expect(res.body).toMatchObject({ status: 'disabled', online: false });
    const before = await udpCount(server, 'unknown_depot');
    let acks = 0;
    depot.on('ack', () => acks++);
    depot.heartbeat();
    await eventually(async () => (await udpCount(server, 'unknown_depot')) > before, 5000, 'dropped');
    expect(acks).toBe(0);
    await admin.post(`/api/depots/${provisioning.depotId}/status`, { status: 'active' });
    const ack = nextAck(depot);
    depot.heartbeat();
    await ack;
  });

  it('looks an unknown depot id up in the database at most once a minute, however often it comes', async () => {
    const { provisioning } = await registerDepot(admin);
    const stranger = simulate({ ...provisioning, depotId: '00000000deadbeef' });
    track(stranger);
    const lookups = (): Promise<number> => metric(server, 'kis_depot_lookups_total{found="no"}');
    const before = await lookups();
    const dropped = await udpCount(server, 'unknown_depot');
    await stranger.start();
    for (let i = 0; i < 50; i++) stranger.heartbeat();
    await eventually(async () => (await udpCount(server, 'unknown_depot')) >= dropped + 51, 5000, 'all dropped');
    expect((await lookups()) - before).toBe(1);
  });

  it('deletes a depot with its history: it is gone from the lists and its telegrams are dropped', async () => {
    const { provisioning } = await registerDepot(admin);
    const depot = track(simulate(provisioning));
    await depot.start();
    await eventually(async () => (await view(provisioning.depotId)).online, 5000, 'online');
    expect((await admin.request('DELETE', `/api/depots/${provisioning.depotId}`)).status).toBe(200);
    expect((await admin.get(`/api/depots/${provisioning.depotId}`)).status).toBe(404);
    expect((await admin.get(`/api/depots/${provisioning.depotId}/history`)).status).toBe(404);
    const list = (await admin.get<{ items: DepotView[] }>('/api/depots?pageSize=100')).body.items;
    expect(list.some((d) => d.depotId === provisioning.depotId)).toBe(false);
    const before = await udpCount(server, 'unknown_depot');
    depot.heartbeat();
    await eventually(async () => (await udpCount(server, 'unknown_depot')) > before, 5000, 'dropped');
    const log = await admin.get<{ items: Array<{ target: string }> }>('/api/admin/audit?action=depot.deleted');
    expect(log.body.items.some((e) => e.target === provisioning.depotId)).toBe(true);
  });
});
