import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFerret, type FerretProcess } from '../../helpers/ferretdb.js';
import { freePort } from '../../helpers/net.js';
import { eventually, startServer, type TestServer } from '../../helpers/server.js';

async function readiness(
  server: TestServer,
): Promise<{ status: number; body: { status: string; checks: Record<string, boolean> } }> {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, boolean> } };
}

describe('/healthz and /readyz', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('turns /readyz to 503 while the database is away and back to 200 when it returns', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kis-ready-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    let ferret: FerretProcess = await startFerret(port, dir);
    cleanups.push(() => ferret.stop());

    const server = await startServer({ env: { MONGODB_URI: `${ferret.uri}kis_ready` } });
    cleanups.push(() => server.stop());

    expect(await readiness(server)).toEqual({
      status: 200,
      body: { status: 'ready', checks: { database: true, udp: true } },
    });

    await ferret.stop();
    await eventually(async () => (await readiness(server)).status === 503, 20_000, '/readyz to turn 503');
    const down = await readiness(server);
    expect(down.body).toEqual({ status: 'not_ready', checks: { database: false, udp: true } });
    // Liveness is not readiness: the process itself is fine.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    ferret = await startFerret(port, dir);
    await eventually(async () => (await readiness(server)).status === 200, 30_000, '/readyz to return to 200');
  });
});
