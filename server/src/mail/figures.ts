/** The outbox in figures, for the operator's home: mails waiting, and those whose delivery failed before. */
import { Forbidden } from '../errors.js';
import { OutboxMail } from './model.js';

export interface OutboxFigures {
  waiting: number;
  /** Waiting mails whose delivery failed at least once (the server could not reach SMTP, or it refused). */
  failing: number;
}

export async function outboxFigures(caller: { role: string }): Promise<OutboxFigures> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  // Both by the status index (status, nextAttemptAt); the outbox keeps every mail ever sent.
  const [waiting, failing] = await Promise.all([
    OutboxMail.countDocuments({ status: 'queued' }),
    OutboxMail.countDocuments({ status: 'queued', attempts: { $gt: 0 } }),
  ]);
  return { waiting, failing };
}
