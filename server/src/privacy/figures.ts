/** Erasure requests in figures, for the operator's home: waiting ones, and those the next run carries out. */
import { Forbidden } from '../errors.js';
import { ErasureRequest } from './model.js';

export interface ErasureFigures {
  waiting: number;
  /** Waiting requests nothing holds any more: the erasure job's next run carries them out. */
  due: number;
}

export async function erasureFigures(caller: { role: string }, now: Date = new Date()): Promise<ErasureFigures> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  // By the (state, notBefore) index the erasure job uses too.
  const [waiting, due] = await Promise.all([
    ErasureRequest.countDocuments({ state: 'waiting' }),
    ErasureRequest.countDocuments({ state: 'waiting', notBefore: { $lte: now } }),
  ]);
  return { waiting, due };
}
