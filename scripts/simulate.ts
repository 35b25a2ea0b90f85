/**
 * Depot simulator: `npm run simulate -- --depots N [options]`. Runs depots that speak
 * depot-protocol.md from provisioning files, or registers them first for a demo. With `npm start`
 * running it brings the dashboard to life.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../server/src/config.js';
import { createSecretBox } from '../server/src/crypto/secret-box.js';
import * as depots from '../server/src/depots/service.js';
import { defaultServer } from './cli/depot-add.js';
import { withDatabase } from './cli/database.js';
import { SimulatedDepot, type DepotMemory, type Provisioning } from './simulator/depot.js';

const HELP = `Usage: npm run simulate -- [options]

Runs simulated key depots against a KIS server over UDP.

  --dir DIR              provisioning files (*.json) to load, and where --register writes them
                         (default <KIS_DATA_DIR>/simulator, that is ./data/simulator unless
                         KIS_DATA_DIR says otherwise); each depot's boot counter is kept beside it
  --depots N             how many depots to run (default: every file in DIR)
  --register             register missing depots through the CLI first (a demo needs nothing else)
  --compartments C       compartments of registered depots (default 8)
  --heartbeat S          heartbeat of registered depots in seconds (default 60)
  --events-per-minute R  random key and door events per depot and minute (default 1)
  --server HOST:PORT     override the server named in the files
  --duration S           stop after S seconds (default: run until Ctrl-C)

A depot that receives a PIN (set_pin) uses it a little later: the PIN opens the compartment, the
key is taken, and brought back after a while.`;

interface Running {
  depot: SimulatedDepot;
  file: string;
}

async function loadMemory(file: string): Promise<DepotMemory | undefined> {
  try {
    return JSON.parse(await readFile(`${file}.state`, 'utf8')) as DepotMemory;
  } catch {
    return undefined;
  }
}

async function provisioningFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

async function register(dir: string, count: number, compartments: number, heartbeat: number): Promise<void> {
  const config = loadConfig(process.env);
  await mkdir(dir, { recursive: true });
  await withDatabase(config, async (masterKey) => {
    await depots.init(createSecretBox(masterKey));
    const have = (await provisioningFiles(dir)).length;
    for (let i = have; i < count; i++) {
      const { provisioning } = await depots.registerDepot(
        { role: 'admin', userId: 'simulator', email: 'simulator', ip: 'local' },
        {
          name: `Simulator ${String(i + 1).padStart(3, '0')}`,
          location: `Halle ${1 + (i % 4)}, Tor ${1 + (i % 7)}`,
          compartments,
          heartbeatSeconds: heartbeat,
          server: defaultServer(config),
        },
      );
      const file = path.join(dir, `${provisioning.depotId}.json`);
      await writeFile(file, `${JSON.stringify(provisioning, null, 2)}\n`, { mode: 0o600 });
      const memory: DepotMemory = { epoch: 0, nextEv: 1, compartments };
      await writeFile(`${file}.state`, JSON.stringify(memory), { mode: 0o600 });
    }
    if (count > have) process.stdout.write(`registered ${count - have} depot(s) in ${dir}\n`);
  });
}

/** Random life: keys taken and returned, the door opened and closed, PINs used when they arrive. */
function animate(depot: SimulatedDepot, eventsPerMinute: number): () => void {
  const timers: NodeJS.Timeout[] = [];
  const later = (ms: number, fn: () => void): void => {
    timers.push(setTimeout(fn, ms));
  };
  const tick = (): void => {
    const roll = Math.random();
    const present = depot.comps.filter((c) => c.key);
    const absent = depot.comps.filter((c) => !c.key);
    if (roll < 0.4 && present.length) {
      const comp = present[Math.floor(Math.random() * present.length)]?.n ?? 1;
      depot.openDoor();
      depot.takeKey(comp);
      later(4000, () => depot.closeDoor());
    } else if (roll < 0.8 && absent.length) {
      const comp = absent[Math.floor(Math.random() * absent.length)]?.n ?? 1;
      depot.openDoor();
      depot.returnKey(comp);
      later(3000, () => depot.closeDoor());
    } else {
      depot.openDoor();
      later(2000, () => depot.closeDoor());
    }
  };
  const interval = eventsPerMinute > 0 ? setInterval(tick, 60_000 / eventsPerMinute) : undefined;
  depot.on('command', (command: { op: string; pin?: string; comp?: number; pinId?: string }) => {
    if (command.op !== 'set_pin' || !command.pin) return;
    const { pin, comp } = command;
    later(5000, () => {
      const opened = depot.enterPin(pin);
      if (!opened) return;
      depot.takeKey(opened.comp, opened.pinId);
      later(30_000, () => depot.returnKey(comp ?? opened.comp, opened.pinId));
    });
  });
  return () => {
    clearInterval(interval);
    for (const t of timers) clearTimeout(t);
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      depots: { type: 'string' },
      register: { type: 'boolean', default: false },
      compartments: { type: 'string', default: '8' },
      heartbeat: { type: 'string', default: '60' },
      'events-per-minute': { type: 'string', default: '1' },
      server: { type: 'string' },
      duration: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  // Beside the server's own data, wherever KIS_DATA_DIR puts it (not in the checkout).
  const dir = path.resolve(values.dir ?? path.join(loadConfig(process.env).dataDir, 'simulator'));
  const wanted = values.depots === undefined ? undefined : Number(values.depots);
  if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 1)) {
    process.stderr.write('--depots must be a positive whole number\n');
    return 2;
  }
  if (values.register) {
    await register(dir, wanted ?? 3, Number(values.compartments), Number(values.heartbeat));
  }
  const files = (await provisioningFiles(dir)).slice(0, wanted);
  if (files.length === 0) {
    process.stderr.write(`No provisioning files in ${dir}. Add --register to create demo depots.\n`);
    return 2;
  }

  const running: Running[] = [];
  const stops: Array<() => void> = [];
  for (const file of files) {
    const provisioning = JSON.parse(await readFile(file, 'utf8')) as Provisioning;
    if (values.server) provisioning.server = values.server;
    const memory = await loadMemory(file);
    const depot = new SimulatedDepot(provisioning, {
      compartments: memory?.compartments ?? Number(values.compartments),
      ...(memory ? { memory } : {}),
    });
    depot.on('memory', (memory: DepotMemory) => {
      void writeFile(`${file}.state`, JSON.stringify(memory), { mode: 0o600 });
    });
    await depot.start();
    stops.push(animate(depot, Number(values['events-per-minute'])));
    running.push({ depot, file });
  }
  const target = values.server ?? 'the servers in their files';
  process.stdout.write(`${running.length} depot(s) running against ${target}; Ctrl-C stops\n`);

  const report = setInterval(() => {
    const acks = running.reduce((n, r) => n + r.depot.received.acks, 0);
    const commands = running.reduce((n, r) => n + r.depot.received.commands, 0);
    const pending = running.reduce((n, r) => n + r.depot.pendingEvents.length, 0);
    process.stdout.write(`depots ${running.length}  acks ${acks}  commands ${commands}  events waiting ${pending}\n`);
  }, 10_000);

  let deadline: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (values.duration) deadline = setTimeout(resolve, Number(values.duration) * 1000);
  });
  clearTimeout(deadline);
  clearInterval(report);
  for (const stop of stops) stop();
  await Promise.all(running.map((r) => r.depot.stop()));
  return 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? 'KIS configuration error: ' : ''}${(err as Error).message}\n`);
  process.exitCode = 1;
}
