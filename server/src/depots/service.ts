import { randomBytes } from 'node:crypto';
import { formatDepotId } from '@kis/protocol/telegram';
import * as audit from '../audit/service.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { Forbidden, Invalid } from '../errors.js';
import type { Caller } from '../identity/service.js';
import { Depot, type DepotDoc } from './model.js';

/** What a depot needs to find and trust the server: shown or downloaded once, then loaded into the depot. */
export interface ProvisioningFile {
  depotId: string;
  keyId: number;
  key: string;
  server: string;
  heartbeat: number;
}

/** A depot as lists show it; never with its key. */
export interface DepotView {
  depotId: string;
  name: string;
  location: string;
  organizationId: string | null;
  compartments: number;
  heartbeatSeconds: number;
  status: 'active' | 'disabled';
  createdAt: string;
}

let box: SecretBox | undefined;

/** Sets the box that seals depot keys (from the master key); call once at start-up. */
export async function init(secretBox: SecretBox): Promise<void> {
  box = secretBox;
  await Depot.createIndexes();
}

function keyContext(depotId: string, keyId: number): string {
  return `depot:${depotId}:key:${keyId}`;
}

function view(doc: DepotDoc): DepotView {
  return {
    depotId: doc.depotId,
    name: doc.name,
    location: doc.location ?? '',
    organizationId: doc.organizationId ?? null,
    compartments: doc.compartments,
    heartbeatSeconds: doc.heartbeatSeconds,
    status: doc.status as 'active' | 'disabled',
    createdAt: doc.createdAt.toISOString(),
  };
}

/**
 * Registers a depot (operators only): a fresh random id and 32-byte key, the key sealed at rest.
 * Returns the provisioning file, the only time the key leaves the server.
 */
export async function registerDepot(
  caller: Pick<Caller, 'role' | 'userId' | 'email' | 'ip'>,
  input: {
    name: string;
    location?: string;
    organizationId?: string;
    compartments: number;
    heartbeatSeconds: number;
    server: string;
  },
): Promise<{ depot: DepotView; provisioning: ProvisioningFile }> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  if (!box) throw new Error('depots not initialised');
  if (!Number.isInteger(input.compartments) || input.compartments < 1 || input.compartments > 255)
    throw new Invalid('compartments_invalid');
  if (!Number.isInteger(input.heartbeatSeconds) || input.heartbeatSeconds < 5 || input.heartbeatSeconds > 86_400)
    throw new Invalid('heartbeat_invalid');
  if (!/^[^\s:]+:\d{1,5}$/.test(input.server)) throw new Invalid('server_invalid');
  const key = randomBytes(32);
  for (let attempt = 0; ; attempt++) {
    // Random ids: nothing to enumerate, and no coordination needed between instances.
    const depotId = formatDepotId(randomBytes(8).readBigUInt64BE());
    try {
      const doc = await Depot.create({
        depotId,
        name: input.name.trim(),
        location: input.location?.trim() ?? '',
        ...(input.organizationId ? { organizationId: input.organizationId } : {}),
        compartments: input.compartments,
        heartbeatSeconds: input.heartbeatSeconds,
        keys: [{ keyId: 1, sealed: box.seal(key, keyContext(depotId, 1)), createdAt: new Date() }],
        currentKeyId: 1,
        createdAt: new Date(),
      });
      await audit.record({
        action: 'depot.registered',
        outcome: 'success',
        actorId: caller.userId,
        actorEmail: caller.email,
        ip: caller.ip,
        target: depotId,
      });
      return {
        depot: view(doc.toObject() as DepotDoc),
        provisioning: {
          depotId,
          keyId: 1,
          key: key.toString('base64'),
          server: input.server,
          heartbeat: input.heartbeatSeconds,
        },
      };
    } catch (err) {
      if ((err as { code?: number }).code !== 11000 || attempt >= 3) throw err;
    }
  }
}

/** The key of a depot for a key id, unsealed; undefined for an unknown depot, key id or a disabled depot. */
export async function depotKey(depotId: string, keyId: number): Promise<Buffer | undefined> {
  if (!box) throw new Error('depots not initialised');
  const doc = await Depot.findOne({ depotId, status: 'active' }, { keys: 1 }).lean();
  const entry = doc?.keys.find((k) => k.keyId === keyId);
  return entry ? box.open(entry.sealed, keyContext(depotId, keyId)) : undefined;
}
