import dgram from 'node:dgram';
import type { Db } from 'mongodb';
import type { DepotView, ProvisioningFile } from '@kis/protocol/api';
import { SimulatedDepot, type SimulatedDepotOptions } from '../../scripts/simulator/depot.js';
import { entriesOf } from '../../server/src/depots/state-log.js';
import type { ApiClient } from './api.js';
import type { TestServer } from './server.js';

/** Registers a depot through the API as an operator and returns its provisioning file. */
export async function registerDepot(
  admin: ApiClient,
  input: { name?: string; compartments?: number; heartbeatSeconds?: number; organizationId?: string } = {},
): Promise<{ depot: DepotView; provisioning: ProvisioningFile }> {
  const res = await admin.post<{ depot: DepotView; provisioning: ProvisioningFile }>('/api/depots', {
    name: input.name ?? 'Depot Nord',
    location: 'Hamburg, Tor 3',
    compartments: input.compartments ?? 4,
    heartbeatSeconds: input.heartbeatSeconds ?? 60,
    ...(input.organizationId ? { organizationId: input.organizationId } : {}),
  });
  if (res.status !== 200) throw new Error(`depot registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** A simulated depot for a provisioning file; stopped by the caller. */
export function simulate(provisioning: ProvisioningFile, options: Partial<SimulatedDepotOptions> = {}): SimulatedDepot {
  return new SimulatedDepot(provisioning, { compartments: 4, eventRetryMs: 1000, ...options });
}

/** The value of a counter sample from /metrics (loopback may read it), e.g. `kis_udp_datagrams_total{outcome="replay"}`. */
export async function metric(server: TestServer, sample: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** The value of `kis_udp_datagrams_total{outcome}`. */
export function udpCount(server: TestServer, outcome: string): Promise<number> {
  return metric(server, `kis_udp_datagrams_total{outcome="${outcome}"}`);
}

/**
 * A bare UDP socket that sends datagrams to the server and records anything that comes back
 * (the server must answer nothing that it drops).
 */
export async function udpProbe(server: TestServer): Promise<{
  send(datagram: Uint8Array): Promise<void>;
  answers: Buffer[];
  close(): Promise<void>;
}> {
  const socket = dgram.createSocket('udp4');
  const answers: Buffer[] = [];
  socket.on('message', (msg) => answers.push(msg));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    answers,
    send: (datagram) =>
      new Promise((resolve, reject) =>
        socket.send(datagram, server.udpPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      ),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** The depot states stored in the state log's two generations, page by page (of one depot, if named). */
export async function storedStateEntries(db: Db, depotId?: string): Promise<number> {
  let entries = 0;
  for (const name of ['depot_states_a', 'depot_states_b'])
    for (const doc of await db.collection(name).find({}).toArray())
      entries += entriesOf(doc).filter((entry) => depotId === undefined || entry.d === depotId).length;
  return entries;
}
