import { z } from 'zod';

/**
 * REST API contracts shared by server and web. The server declares its routes with these schemas,
 * and the OpenAPI document at /api/openapi.json is generated from them.
 */

/** Answer of /healthz: the process is alive. */
export const healthSchema = z.object({ status: z.literal('ok') });

/** Answer of /readyz: 200 when every check passes, 503 otherwise. */
export const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({
    database: z.boolean().describe('the database answers a ping'),
    udp: z.boolean().describe('the depot UDP socket is bound'),
  }),
});
export type Readiness = z.infer<typeof readinessSchema>;

/** The error body every failing API request gets. `code` is stable and translated by the web. */
export const apiErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
  }),
});
export type ApiError = z.infer<typeof apiErrorSchema>;

/** Public facts about the running server, for the portal's footer and diagnostics. */
export const serverInfoSchema = z.object({
  name: z.literal('KIS'),
  version: z.string(),
  /** Mail is only queued, not sent: admins see a banner. */
  mailConfigured: z.boolean(),
});
export type ServerInfo = z.infer<typeof serverInfoSchema>;

export * from './identity.js';
export * from './depots.js';
export * from './areas.js';
export * from './documents.js';
export * from './reports.js';
export * from './payments.js';
export * from './privacy.js';
export * from './overview.js';
export * from './history-labels.js';
export * from './errors.js';
