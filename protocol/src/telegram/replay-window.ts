/** What a replay window remembers; persisted so a restart forgets nothing. */
export interface ReplayState {
  epoch: number;
  /** Highest seq accepted in this epoch; 0 before the first. */
  highest: number;
  /** Bit i set: seq `highest - i` was accepted (bit 0 is `highest` itself). 64 bits. */
  bitmap: bigint;
}

const WINDOW = 64n;
const MASK = (1n << WINDOW) - 1n;

/** A fresh window: nothing seen yet. */
export function emptyReplayState(): ReplayState {
  return { epoch: 0, highest: 0, bitmap: 0n };
}

/**
 * True when (epoch, seq) would be accepted: a higher epoch, or the same epoch with a seq above the
 * highest seen, or within the 64 below it and not seen yet. Pure: safe to test before decrypting.
 */
export function wouldAccept(state: ReplayState, epoch: number, seq: number): boolean {
  if (epoch > state.epoch) return true;
  if (epoch < state.epoch) return false;
  if (seq > state.highest) return true;
  const offset = BigInt(state.highest - seq);
  if (offset >= WINDOW) return false;
  return (state.bitmap & (1n << offset)) === 0n;
}

/**
 * Records an authenticated telegram and returns the new state, or undefined for a replay. Call
 * only after the tag verified: a forged telegram must not move the window.
 */
export function accept(state: ReplayState, epoch: number, seq: number): ReplayState | undefined {
  if (!wouldAccept(state, epoch, seq)) return undefined;
  if (epoch > state.epoch) return { epoch, highest: seq, bitmap: 1n };
  if (seq > state.highest) {
    const shift = BigInt(seq - state.highest);
    const bitmap = shift >= WINDOW ? 1n : ((state.bitmap << shift) | 1n) & MASK;
    return { epoch, highest: seq, bitmap };
  }
  return { ...state, bitmap: state.bitmap | (1n << BigInt(state.highest - seq)) };
}
