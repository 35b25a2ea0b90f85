/** Erasure requests in figures, for the operator's home: waiting ones, and those the next run carries out. */
import { ErasureRequest } from './model.js';

export interface ErasureFigures {
  waiting: number;
  /** Waiting requests nothing holds any more: the erasure job's next run carries them out. */
  due: number;
}

export async function erasureFigures(now: Date = new Date()): Promise<ErasureFigures> {
  // By the (state, notBefore) index the erasure job uses too.
  const [waiting, due] = await Promise.all([
    ErasureRequest.countDocuments({ state: 'waiting' }),
    ErasureRequest.countDocuments({ state: 'waiting', notBefore: { $lte: now } }),
  ]);
  return { waiting, due };
}
