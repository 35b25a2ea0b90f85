import { spawn, type ChildProcess } from 'node:child_process';
import { findEngine } from '../../server/src/db/engines.js';
import { ping } from '../../server/src/db/provision.js';
import { eventually, exited } from './server.js';

/** A FerretDB process a test controls directly, to take the database away and bring it back. */
export interface FerretProcess {
  uri: string;
  stop(): Promise<void>;
}

/**
 * Starts FerretDB on a given port with data in dir, and waits until it answers. It keeps its data
 * in SQLite: one process to stop and start, which is all an outage test needs of the database.
 */
export async function startFerret(port: number, dir: string): Promise<FerretProcess> {
  const engine = await findEngine({
    log: () => undefined,
    installFerretdb: false,
    only: 'ferretdb',
    backend: 'sqlite',
  });
  if (!engine) throw new Error('FerretDB is not installed: run bash scripts/install-ferretdb.sh');
  const child: ChildProcess = spawn(engine.binary, engine.args(port, dir), { stdio: 'ignore' });
  const uri = `mongodb://127.0.0.1:${port}/`;
  await eventually(() => ping(uri, 500), 20_000, 'FerretDB to answer');
  return {
    uri,
    stop: async () => {
      const done = exited(child);
      child.kill('SIGTERM');
      await done;
    },
  };
}
