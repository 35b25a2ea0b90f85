import { z } from 'zod';

/**
 * The operator's home (/api/admin/overview): the figures an operator looks at first, and the
 * first-run checklist until every item is done. Counts are exact; times are ISO.
 */
export const operatorOverviewSchema = z.object({
  depots: z.object({
    total: z.number(),
    online: z.number(),
    /** Active depots not heard from within three heartbeats. */
    offline: z.number(),
    /** Depots with at least one open alarm (tamper, door open too long, power lost, key overdue). */
    alarms: z.number(),
    disabled: z.number(),
  }),
  registrations: z.object({
    /** People who registered themselves in the last 7 days (not invited, imported or set up). */
    lastWeek: z.number(),
    /** Of those, people who have not verified their address yet. */
    unverified: z.number(),
  }),
  outbox: z.object({
    /** Mails waiting to be sent. */
    waiting: z.number(),
    /** Of those, mails whose delivery failed at least once. */
    failing: z.number(),
  }),
  erasures: z.object({
    /** Erasure requests not yet carried out. */
    waiting: z.number(),
    /** Of those, requests the next run of the erasure job carries out (nothing holds them any more). */
    due: z.number(),
  }),
  backup: z.object({
    /** The daily backup's time (HH:MM in the server's zone), or null when it is switched off. */
    schedule: z.string().nullable(),
    /** The newest backup file. */
    last: z.object({ at: z.string(), file: z.string() }).nullable(),
    /** The last backup this process tried failed (the file above, if any, is older). */
    failedAt: z.string().nullable(),
  }),
  /** The first-run checklist: true where done. */
  checklist: z.object({
    /** SMTP_URL is set: mails leave the server. */
    mail: z.boolean(),
    /** At least one depot is registered. */
    depot: z.boolean(),
    /** At least one company exists, and every company has a confirmed domain. */
    domains: z.boolean(),
  }),
});
export type OperatorOverview = z.infer<typeof operatorOverviewSchema>;
