import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFirstAdmin } from '../helpers/api.js';
import { startFerret, type FerretProcess } from '../helpers/ferretdb.js';
import { freePort } from '../helpers/net.js';
import { eventually, startServer } from '../helpers/server.js';
import { DepotFleet, ledger } from './fleet.js';

/** The issue asks for a minute without the database. */
const OUTAGE_MS = 60_000;
const DEPOTS = 40;
const EVENTS_PER_SECOND = 10;
/** An ACK already on its way when the database went away may still arrive this long after. */
const IN_FLIGHT_MS = 500;

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The server's log lines from `since` on: how often each message came, and the last error's text. */
function logSummary(logs: ReadonlyArray<Record<string, unknown>>, since: number): string {
  const counts = new Map<string, number>();
  let lastError = '';
  for (const line of logs) {
    if (Date.parse(String(line.time)) < since) continue;
    const msg = String(line.msg);
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
    const err = line.err as { message?: string } | undefined;
    if (err?.message) lastError = `${msg}: ${err.message}`;
  }
  return JSON.stringify({ messages: Object.fromEntries(counts), lastError });
}

async function readyz(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`)).status;
}

describe('the database stopped for a minute under load', () => {
  it('keeps the server up, says 503, acknowledges nothing unstored, and fills the gap from the depots afterwards', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kis-outage-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    let ferret: FerretProcess = await startFerret(port, dir);
    cleanups.push(() => ferret.stop());
    const mongoUri = `${ferret.uri}kis_outage`;
    const server = await startServer({ env: { MONGODB_URI: mongoUri } });
    cleanups.push(() => server.stop());
    const admin = await createFirstAdmin(server);
    const files = await DepotFleet.register(admin, DEPOTS, 10);

    const fleet = new DepotFleet();
    cleanups.push(() => fleet.stop());
    await fleet.start(files, `127.0.0.1:${server.udpPort}`, 2000);
    fleet.run(EVENTS_PER_SECOND);
    await eventually(() => fleet.ackedCount >= 30, 20_000, 'events acknowledged before the outage');

    await ferret.stop();
    const downAt = Date.now();
    const generatedBefore = fleet.generatedCount;
    await eventually(async () => (await readyz(server.url)) === 503, 20_000, '/readyz to say 503');
    // The whole minute: the process lives, answers liveness, and keeps saying it is not ready.
    const readiness: number[] = [];
    while (Date.now() - downAt < OUTAGE_MS) {
      readiness.push(await readyz(server.url));
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await sleep(2000);
    }
    expect(server.process.exitCode).toBeNull();
    expect(readiness.every((s) => s === 503)).toBe(true);
    const generatedDuring = fleet.generatedCount - generatedBefore;
    expect(generatedDuring).toBeGreaterThan(OUTAGE_MS / 1000);

    const upAt = Date.now();
    ferret = await startFerret(port, dir);
    await eventually(async () => (await readyz(server.url)) === 200, 30_000, '/readyz to say 200 again');
    await sleep(2000);
    fleet.pause();
    await fleet.settle(90_000).catch((err: unknown) => {
      // What the server said since the outage began, so that a failure in CI says where it stuck.
      throw new Error(`${String(err)}; the server since the outage: ${logSummary(server.logs, downAt)}`);
    });

    // Nothing was acknowledged while nothing could be stored.
    const ackedWhileDown = fleet.depots.flatMap((d) =>
      [...d.acked].filter(([, at]) => at > downAt + IN_FLIGHT_MS && at < upAt).map(([ev]) => `${d.depotId}:${ev}`),
    );
    expect(ackedWhileDown).toEqual([]);

    // The depots' repeats filled the gap: every event is stored, once.
    const books = await ledger(fleet, mongoUri);
    expect(books.acked).toBe(books.generated);
    expect(books.lost).toEqual([]);
    expect(books.doubled).toEqual([]);
    expect(books.invented).toEqual([]);
    expect(server.logs.some((l) => l.msg === 'depot commit failed; not acknowledged')).toBe(true);
  }, 240_000);
});
