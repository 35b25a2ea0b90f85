import { onlyLivenessChanged, type LiveState } from './live-state.js';
import type { DepotCommit } from './machine.js';
import type { DurableState } from './state-log.js';

/**
 * The newest commit of each depot that was answered before it was written: a heartbeat that
 * changed only the depot's liveness (runtime.ts). Held until it is due, replaced by a newer one,
 * dropped when a newer state of the depot is written anyway. In the order the depots first had
 * one, so the due ones are found from the front.
 */
export class UnwrittenStates {
  private readonly held = new Map<string, { commit: DepotCommit; since: number }>();

  /** Holds a depot's newest unwritten commit; the depot keeps its place and its time. */
  hold(commit: DepotCommit, now: number): void {
    const known = this.held.get(commit.depotId);
    if (known) known.commit = commit;
    else this.held.set(commit.depotId, { commit, since: now });
  }

  /** A newer state of the depot is being written: nothing of it is unwritten any more. */
  drop(depotId: string): void {
    this.held.delete(depotId);
  }

  /** Takes a depot's unwritten commit, if it has one. */
  take(depotId: string): DepotCommit | undefined {
    const known = this.held.get(depotId);
    this.held.delete(depotId);
    return known?.commit;
  }

  /**
   * Takes the commits of the depots that have had one since `before` or earlier (all: Infinity),
   * oldest first, at most `max`.
   */
  due(before: number, max = Number.POSITIVE_INFINITY): DepotCommit[] {
    const out: DepotCommit[] = [];
    for (const [depotId, { commit, since }] of this.held) {
      if (since > before || out.length >= max) break;
      this.held.delete(depotId);
      out.push(commit);
    }
    return out;
  }
}

/**
 * A commit that writes a depot's state again with its window exact (no reservation ahead of it):
 * what a clean stop writes, so that a restart skips none of the depot's telegrams.
 */
export function exactStateCommit(depotId: string, state: DurableState, rev: number): DepotCommit {
  return {
    depotId,
    history: [],
    live: state.live,
    lastEv: state.lastEv,
    replay: state.replay,
    reserved: state.replay.highest,
    sendEpoch: state.sendEpoch,
    rev,
    commandUpdates: [],
    pinUses: [],
    send: [],
    raised: [],
  };
}

/** A commit that only answers a telegram and refreshes the depot's liveness: nothing else to write. */
export function onlyLiveness(commit: DepotCommit, before: LiveState): boolean {
  return (
    commit.history.length === 0 &&
    commit.commandUpdates.length === 0 &&
    commit.pinUses.length === 0 &&
    commit.send.length === 0 &&
    commit.raised.length === 0 &&
    (commit.ack?.ev.length ?? 0) === 0 &&
    onlyLivenessChanged(before, commit.live)
  );
}
