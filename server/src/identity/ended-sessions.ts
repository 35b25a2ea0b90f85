/**
 * Sessions this process has ended, kept until no read of the database can bring them back.
 *
 * A session ends in memory at once (its actor stops, the browser is told) and in the database a
 * moment later. A request that looks the cookie up in that moment finds the session still open in
 * the database and would revive it: a logout that does not stick. So a read of a session from the
 * database takes a ticket first, and answers "ended" for every session ended here while it ran.
 *
 * An ended session is forgotten once its end is written and every read in flight began after that
 * write; from then on the database says "ended" by itself. An end whose write failed stays here, so
 * the session stays ended for as long as this process lives.
 */
export class EndedSessions {
  /** Counts the writes of ends; a read's ticket is the count when it began. */
  private written = 0;
  /** Ended sessions, with the count at which their end was written (undefined: not yet). */
  private readonly ends = new Map<string, number | undefined>();
  /** Reads in flight, by ticket. */
  private readonly reads = new Map<number, number>();

  /** The session ended in memory; its end is being written. */
  ended(sessionId: string): void {
    this.ends.set(sessionId, undefined);
  }

  /** The session's end is in the database. */
  endWritten(sessionId: string): void {
    if (!this.ends.has(sessionId)) return;
    this.ends.set(sessionId, ++this.written);
    this.prune();
  }

  /** Begins a read of sessions from the database; pass the ticket to {@link endRead}. */
  beginRead(): number {
    const ticket = this.written;
    this.reads.set(ticket, (this.reads.get(ticket) ?? 0) + 1);
    return ticket;
  }

  /** Whether a session read from the database was ended here: it must not be revived. */
  isEnded(sessionId: string): boolean {
    return this.ends.has(sessionId);
  }

  endRead(ticket: number): void {
    const left = (this.reads.get(ticket) ?? 1) - 1;
    if (left > 0) this.reads.set(ticket, left);
    else this.reads.delete(ticket);
    this.prune();
  }

  /** How many ended sessions are still held (for tests). */
  get size(): number {
    return this.ends.size;
  }

  private prune(): void {
    let oldest = Infinity;
    for (const ticket of this.reads.keys()) oldest = Math.min(oldest, ticket);
    for (const [sessionId, writtenAt] of this.ends) {
      if (writtenAt !== undefined && writtenAt <= oldest) this.ends.delete(sessionId);
    }
  }
}
