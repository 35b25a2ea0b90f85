import { z } from 'zod';
import { atLeast, atMost } from '../length.js';

/** Erasure requests: an operator erases people's data; a person deletes their account or revokes consent. */
export const ERASURE_REASONS = ['admin', 'revocation', 'self'] as const;

export const erasureCreateSchema = z.object({
  emails: z
    .array(
      z
        .string()
        .trim()
        .toLowerCase()
        .pipe(z.email().check(atMost(254))),
    )
    .check(atLeast(1))
    .check(atMost(50)),
});

export const erasureViewSchema = z.object({
  id: z.string(),
  /** The address while the request waits; masked once done. */
  email: z.string(),
  reason: z.enum(ERASURE_REASONS),
  requestedBy: z.string(),
  state: z.enum(['waiting', 'done']),
  /** When it completes at the earliest: the end of the person's last active transfer. */
  notBefore: z.string(),
  /** What it waits for: files, pins, invoices. */
  waitingFor: z.array(z.string()),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  report: z.record(z.string(), z.unknown()).nullable(),
  /** What the law made KIS keep (invoices), in words. */
  kept: z.string(),
});
export type ErasureView = z.infer<typeof erasureViewSchema>;
export const erasureListSchema = z.object({ items: z.array(erasureViewSchema), total: z.number() });

/** Deleting one's own account, or revoking consent, needs the password again. */
export const ownErasureSchema = z.object({
  password: z.string().check(atLeast(1)).check(atMost(256)),
  reason: z.enum(['self', 'revocation']).default('self'),
});
