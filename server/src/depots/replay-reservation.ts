import type { ReplayState } from '@kis/protocol/telegram';

/**
 * How long a depot's reservation should last at its own pace: the step grows while reservations
 * are used up faster than this, and shrinks when they last longer.
 */
export const RESERVATION_MS = 10_000;
/**
 * The step shrinks only once a reservation lasted this many times {@link RESERVATION_MS}: without
 * the gap, a depot whose pace sits near the bound grows and shrinks its step in turns (11 telegrams
 * last 11 s at one a second: shrunk to 5, which last 5 s: grown to 11), and renews twice as often.
 */
const SHRINK_AFTER = 4;
/**
 * The fewest telegrams a reservation covers beyond the one written: two, so that after a crash a
 * depot that sends only heartbeats loses at most two of them, one fewer than the server's offline
 * rule needs (3 missed intervals, machine.ts): nobody sees it go offline. A depot's repeated
 * events use up the rest within as many repeats.
 */
const MIN_STEP = 2;
/** The most telegrams one reservation covers. */
const MAX_STEP = 1024;

/**
 * The anti-replay high-water mark of one depot: up to which seq (in which epoch) telegrams may be
 * accepted without writing the window first.
 *
 * Every state KIS writes for a depot carries `reserved`, at least the window's highest seq. A
 * telegram that changes nothing but the depot's liveness (a heartbeat) is answered without a write
 * while its seq is within the reservation that is durable already; the first beyond it is written,
 * with a new reservation ahead of it. After a crash the window starts at the reservation (every seq
 * up to it counts as seen), so no telegram accepted before the crash can be replayed, and a depot
 * loses at most the rest of its reservation: the step is sized by the depot's own pace to about
 * {@link RESERVATION_MS} of its telegrams, and at least {@link MIN_STEP} (a depot that sends once a
 * minute has every second heartbeat written). A clean stop writes every window exactly, so a
 * restart skips nothing. This is the receiver's side of the persisted counters with skip-ahead that IPsec and
 * WireGuard implementations use.
 *
 * A depot's telegrams should never wait for a reservation: once half of the step is used up, the
 * next reservation is written in the background ({@link ReplayReservation.renewal}), while the
 * durable one still covers the telegrams that follow. Only a depot that runs through half a step
 * faster than the database writes (or whose renewal failed) passes its reservation and waits.
 */
export class ReplayReservation {
  /** The newest reservation asked for (written or being written). */
  private epoch = 0;
  private upTo = 0;
  /** The newest reservation known to be durable. */
  private durableEpoch = 0;
  private durableUpTo = 0;
  private step = MIN_STEP;
  private madeAt = Number.NEGATIVE_INFINITY;

  constructor(replay: ReplayState) {
    this.epoch = this.durableEpoch = replay.epoch;
    this.upTo = this.durableUpTo = replay.highest;
  }

  /** True when a window's highest seq is within a durable reservation: it needs no write. */
  covers(replay: ReplayState): boolean {
    return replay.epoch === this.durableEpoch && replay.highest <= this.durableUpTo;
  }

  /**
   * The `reserved` to write with a state whose window is `replay`: the reservation in force, or,
   * when the window has used half of it or passed it, a new one ahead of the window (the step grows
   * when the last one lasted less than {@link RESERVATION_MS}, and shrinks when it lasted far longer).
   */
  forWrite(replay: ReplayState, now: number): number {
    // A state written anyway (an event, say) renews a reservation half used up, for free: else the
    // depot's heartbeats after a run of events would each pass the reservation and wait for a write.
    if (replay.epoch === this.epoch && replay.highest <= this.upTo && 2 * (this.upTo - replay.highest) >= this.step)
      return this.upTo;
    return this.renew(replay, now);
  }

  /**
   * The `reserved` of a renewal to write in the background, or undefined while none is due: due
   * when the window is covered, has used up half of the step, and nothing beyond the durable
   * reservation is being written (a failed write leaves its reservation asked for, so the depot
   * then passes the durable one and its next write carries it).
   */
  renewal(replay: ReplayState, now: number): number | undefined {
    if (!this.covers(replay) || this.epoch !== this.durableEpoch || this.upTo !== this.durableUpTo) return undefined;
    if (2 * (this.durableUpTo - replay.highest) >= this.step) return undefined;
    return this.renew(replay, now);
  }

  private renew(replay: ReplayState, now: number): number {
    const lasted = now - this.madeAt;
    if (lasted < RESERVATION_MS) this.step = Math.min(2 * this.step + 1, MAX_STEP);
    else if (lasted > SHRINK_AFTER * RESERVATION_MS) this.step = Math.max(MIN_STEP, this.step >> 1);
    this.madeAt = now;
    this.epoch = replay.epoch;
    this.upTo = replay.highest + this.step;
    return this.upTo;
  }

  /** The reservation asked for last, for a state written without a telegram of its own. */
  current(replay: ReplayState): number {
    return replay.epoch === this.epoch ? Math.max(this.upTo, replay.highest) : replay.highest;
  }

  /** A state with this window and reservation is durable now. */
  confirm(replay: ReplayState, reserved: number): void {
    if (replay.epoch > this.durableEpoch || (replay.epoch === this.durableEpoch && reserved > this.durableUpTo)) {
      this.durableEpoch = replay.epoch;
      this.durableUpTo = reserved;
    }
  }
}

/** A window as it must be after a crash: every seq up to the reservation counts as seen. */
export function widenedToReservation(replay: ReplayState, reserved: number | undefined): ReplayState {
  if (reserved === undefined || reserved <= replay.highest) return replay;
  return { epoch: replay.epoch, highest: reserved, bitmap: (1n << 64n) - 1n };
}
