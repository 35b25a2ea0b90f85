/**
 * The fleet in figures, for the operator's home: how many depots are online, offline, in alarm or
 * disabled. Active depots are all in memory (the runtime), so only the disabled ones are counted
 * in the database, by the status index the depot list uses too.
 */
import { Forbidden } from '../errors.js';
import { Depot } from './model.js';
import type { DepotRuntime } from './runtime.js';

export interface FleetFigures {
  total: number;
  online: number;
  offline: number;
  /** Depots with at least one open alarm. */
  alarms: number;
  disabled: number;
}

export async function fleetFigures(caller: { role: string }, runtime: DepotRuntime | undefined): Promise<FleetFigures> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  let online = 0;
  let offline = 0;
  let alarms = 0;
  for (const depotId of runtime?.links.keys() ?? []) {
    const view = runtime?.view(depotId);
    if (!view) continue;
    if (view.online) online += 1;
    else offline += 1;
    if (view.alarms.length > 0) alarms += 1;
  }
  const disabled = await Depot.countDocuments({ status: 'disabled' });
  if (!runtime) {
    // Without the live side (a command-line tool) every active depot counts as offline.
    offline = await Depot.countDocuments({ status: 'active' });
  }
  return { total: online + offline + disabled, online, offline, alarms, disabled };
}
