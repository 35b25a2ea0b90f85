/**
 * Benchmark: memory of resident depot actors. Starts 100,000 depot actors as the server does (a
 * depot machine with 8 compartments, an address, a last heartbeat, its offline timer running) and
 * measures the heap they take. Prints one JSON object.
 *
 *   npm run bench:actors [-- --actors 100000]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createActor } from 'xstate';
import { initialLiveState } from '../../server/src/depots/live-state.js';
import { depotMachine, type DepotActor } from '../../server/src/depots/machine.js';
import { log } from './common.js';

const { values } = parseArgs({ options: { actors: { type: 'string', default: '100000' } } });
const COUNT = Number(values.actors);

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:actors does)');
  for (let i = 0; i < 3; i++) gc();
}

function heapMb(): number {
  collect();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const before = heapMb();
const rssBefore = process.memoryUsage().rss / 2 ** 20;
log(`starting ${COUNT} depot actors …`);
const started = performance.now();
const actors: DepotActor[] = [];
const now = Date.now();
for (let i = 0; i < COUNT; i++) {
  const live = initialLiveState(8);
  const actor = createActor(depotMachine, {
    input: {
      depotId: i.toString(16).padStart(16, '0'),
      heartbeatMs: 60_000,
      live: {
        ...live,
        online: true,
        lastSeen: now,
        address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:40000`,
        fw: 'kd-2.4.1',
        hw: 'KD-8',
        door: 'closed',
        power: 'mains',
        batt: 100,
        comps: live.comps.map((c) => ({ ...c, key: true, locked: true })),
      },
      lastEv: 1000,
      replay: { epoch: 3, highest: 120, bitmap: 0xffffffffn },
      commands: [],
      returnTimes: {},
      now: Date.now,
      effects: { commit: () => undefined },
    },
  });
  actor.start();
  actors.push(actor);
}
const startMs = performance.now() - started;
const after = heapMb();
const rssAfter = process.memoryUsage().rss / 2 ** 20;
const online = actors.filter((a) => a.getSnapshot().matches('online')).length;
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'depot-actors',
      machine: { cpus: os.cpus().length, node: process.version },
      actors: COUNT,
      online,
      heapMb: Math.round(after - before),
      heapKbPerActor: Math.round(((after - before) * 1024 * 10) / COUNT) / 10,
      rssGrowthMb: Math.round(rssAfter - rssBefore),
      startSeconds: Math.round(startMs / 100) / 10,
    },
    null,
    2,
  )}\n`,
);
for (const actor of actors) actor.stop();
