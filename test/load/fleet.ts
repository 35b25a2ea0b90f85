import type { DepotView, ProvisioningFile } from '@kis/protocol/api';
import { storedEvents } from '../../scripts/bench/common.js';
import type { SimulatedDepot } from '../../scripts/simulator/depot.js';
import type { ApiClient } from '../helpers/api.js';
import { registerDepot, simulate } from '../helpers/depots.js';
import { eventually } from '../helpers/server.js';

/** One simulated depot of a fleet and what it has said and heard. */
export interface FleetDepot {
  depotId: string;
  provisioning: ProvisioningFile;
  sim: SimulatedDepot;
  /** Every event number the depot generated, in order. */
  generated: number[];
  /** Event numbers the server named in an ACK, with the time the ACK arrived. */
  acked: Map<number, number>;
}

/**
 * A fleet of simulated depots on real UDP sockets that report key movements at a steady rate and
 * keep books of what they generated and what the server acknowledged — the load of the fault tests.
 */
export class DepotFleet {
  readonly depots: FleetDepot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;

  /** Registers `count` depots through the operator's API (4 compartments each). */
  static async register(admin: ApiClient, count: number, heartbeatSeconds: number): Promise<ProvisioningFile[]> {
    const files: ProvisioningFile[] = [];
    for (let i = 0; i < count; i++) {
      const { provisioning } = await registerDepot(admin, { name: `Lastdepot ${i + 1}`, heartbeatSeconds });
      files.push(provisioning);
    }
    return files;
  }

  /** Starts a simulated depot for every provisioning file, talking to `server` (host:port). */
  async start(files: ProvisioningFile[], server: string, eventRetryMs: number): Promise<void> {
    for (const provisioning of files) {
      const sim = simulate({ ...provisioning, server }, { eventRetryMs });
      const depot: FleetDepot = { depotId: provisioning.depotId, provisioning, sim, generated: [], acked: new Map() };
      sim.on('ack', (ack: { ev?: number[] }) => {
        const now = Date.now();
        for (const ev of ack.ev ?? []) if (!depot.acked.has(ev)) depot.acked.set(ev, now);
      });
      this.depots.push(depot);
      await sim.start();
    }
  }

  /** Generates `perSecond` key movements across the fleet, round robin, until `pause`. */
  run(perSecond: number): void {
    this.pause();
    const tick = 50;
    let owed = 0;
    this.timer = setInterval(() => {
      owed += (perSecond * tick) / 1000;
      for (; owed >= 1; owed--) {
        const depot = this.depots[this.turn % this.depots.length];
        this.turn++;
        if (!depot) return;
        const comp = 1 + (Math.floor(this.turn / this.depots.length) % 4);
        const inside = depot.sim.comps[comp - 1]?.key ?? true;
        depot.generated.push(inside ? depot.sim.takeKey(comp) : depot.sim.returnKey(comp));
      }
    }, tick);
  }

  pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Event numbers generated so far. */
  get generatedCount(): number {
    return this.depots.reduce((sum, d) => sum + d.generated.length, 0);
  }

  /** Event numbers acknowledged so far. */
  get ackedCount(): number {
    return this.depots.reduce((sum, d) => sum + d.acked.size, 0);
  }

  /** Waits until every generated event is acknowledged (the depots repeat the rest on their own). */
  async settle(timeoutMs: number): Promise<void> {
    await eventually(
      () => this.depots.every((d) => d.sim.pendingEvents.length === 0),
      timeoutMs,
      `every event acknowledged (${this.generatedCount - this.ackedCount} of ${this.generatedCount} still open)`,
    );
  }

  async stop(): Promise<void> {
    this.pause();
    await Promise.all(this.depots.map((d) => d.sim.stop()));
  }
}

/** What a check of the fleet against the database found. */
export interface Ledger {
  generated: number;
  acked: number;
  /** Acknowledged but not in the database. */
  lost: string[];
  /** Stored more than once. */
  doubled: string[];
  /** Stored although the depot never generated it. */
  invented: string[];
}

/** Compares what the depots generated and heard acknowledged with what the database holds. */
export async function ledger(fleet: DepotFleet, mongoUri: string): Promise<Ledger> {
  const stored = await storedEvents(mongoUri);
  const result: Ledger = {
    generated: fleet.generatedCount,
    acked: fleet.ackedCount,
    lost: [],
    doubled: [],
    invented: [],
  };
  for (const depot of fleet.depots) {
    const inDb = stored.get(depot.depotId) ?? new Map<number, number>();
    for (const ev of depot.acked.keys()) if (!inDb.has(ev)) result.lost.push(`${depot.depotId}:${ev}`);
    const generated = new Set(depot.generated);
    for (const [ev, count] of inDb) {
      if (count > 1) result.doubled.push(`${depot.depotId}:${ev}×${count}`);
      if (!generated.has(ev)) result.invented.push(`${depot.depotId}:${ev}`);
    }
  }
  return result;
}

/** Every depot of the fleet as the operator's API shows it (all pages). */
export async function depotViews(admin: ApiClient): Promise<DepotView[]> {
  const views: DepotView[] = [];
  for (let page = 1; ; page++) {
    const res = await admin.get<{ items: DepotView[]; total: number }>(`/api/depots?page=${page}&pageSize=100`);
    if (res.status !== 200) throw new Error(`depot list: ${res.status}`);
    views.push(...res.body.items);
    if (views.length >= res.body.total || res.body.items.length === 0) return views;
  }
}
