/** Datagrams the server drops unanswered: why, and a log of them that a flood cannot fill. */
import type { Logger } from '../logger.js';

/** Why a datagram was dropped: the `outcome` label of `kis_udp_datagrams_total`. */
export type DropOutcome =
  | 'too_long'
  | 'too_short'
  | 'bad_magic'
  | 'bad_version'
  | 'bad_flags'
  | 'unknown_type'
  | 'wrong_direction'
  | 'unknown_depot'
  | 'unknown_key'
  | 'replay'
  | 'bad_tag'
  | 'bad_cbor'
  | 'bad_payload';

/** At most one log line per drop reason in this time; the line says how many were not logged. */
const DROP_LOG_INTERVAL_MS = 10_000;

/** Logs drops by reason, at a bounded rate, never with the datagram's content. */
export class DropLog {
  private readonly last = new Map<DropOutcome, { at: number; suppressed: number }>();
  constructor(private readonly logger: Logger) {}

  /** One drop, or `count` of the same reason of which this is an example. */
  note(reason: DropOutcome, from: { address: string }, depotId?: string, count = 1): void {
    const now = Date.now();
    const entry = this.last.get(reason);
    if (entry && now - entry.at < DROP_LOG_INTERVAL_MS) {
      entry.suppressed += count;
      return;
    }
    this.logger.warn(
      { reason, from: from.address, ...(depotId ? { depotId } : {}), suppressed: entry?.suppressed ?? 0 },
      'udp datagram dropped',
    );
    this.last.set(reason, { at: now, suppressed: count - 1 });
  }
}
