import { z } from 'zod';
import { exportQuerySchema } from './reports.js';
import { atLeast, atMost } from '../length.js';

/** A depot id as people see it: 16 hex digits. */
export const depotIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a depot id has 16 hex digits');

/** The role a user holds on a depot: viewer < operator < manager. */
export const DEPOT_ROLES = ['viewer', 'operator', 'manager'] as const;
export const depotRoleSchema = z.enum(DEPOT_ROLES);
export type DepotRole = z.infer<typeof depotRoleSchema>;

export const alarmKindSchema = z.enum(['tamper', 'door_open_too_long', 'power_lost', 'key_overdue']);
export type DepotAlarmKind = z.infer<typeof alarmKindSchema>;

/** The compact live view of a depot: what a dashboard tile shows, sent to the room `depot:<id>`. */
export const depotViewSchema = z.object({
  depotId: z.string(),
  name: z.string(),
  location: z.string(),
  organizationId: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  heartbeatSeconds: z.number(),
  online: z.boolean(),
  /** ISO time of the last accepted telegram. */
  lastSeen: z.string().nullable(),
  address: z.string().nullable(),
  fw: z.string().nullable(),
  door: z.enum(['open', 'closed', 'unknown']),
  power: z.enum(['mains', 'battery', 'unknown']),
  batt: z.number().nullable(),
  rssi: z.number().nullable(),
  temp: z.number().nullable(),
  comps: z.array(z.object({ n: z.number(), key: z.boolean().nullable(), locked: z.boolean().nullable() })),
  alarms: z.array(
    z.object({ kind: alarmKindSchema, since: z.string(), comp: z.number().optional(), pinId: z.string().optional() }),
  ),
  /** Keys out under a PIN with a return time. */
  loans: z.array(z.object({ comp: z.number(), pinId: z.string(), takenAt: z.string(), dueAt: z.string() })),
  pendingCommands: z.number(),
  /** The caller's role on this depot. */
  role: depotRoleSchema,
});
export type DepotView = z.infer<typeof depotViewSchema>;

export const depotListSchema = z.object({ items: z.array(depotViewSchema), total: z.number() });

/** Register a depot (operators). */
export const depotCreateSchema = z.object({
  name: z.string().trim().check(atLeast(1)).check(atMost(100)),
  location: z.string().trim().check(atMost(200)).default(''),
  organizationId: z.string().check(atMost(40)).optional(),
  compartments: z.number().int().min(1).max(255),
  heartbeatSeconds: z.number().int().min(1).max(86_400).default(60),
});
export type DepotCreate = z.infer<typeof depotCreateSchema>;

/** The file a depot is provisioned with; the only time its key leaves the server. */
export const provisioningSchema = z.object({
  depotId: z.string(),
  keyId: z.number(),
  key: z.string(),
  server: z.string(),
  heartbeat: z.number(),
});
export type ProvisioningFile = z.infer<typeof provisioningSchema>;
export const depotCreatedSchema = z.object({ depot: depotViewSchema, provisioning: provisioningSchema });

export const depotUpdateSchema = z.object({
  name: z.string().trim().check(atLeast(1)).check(atMost(100)).optional(),
  location: z.string().trim().check(atMost(200)).optional(),
  /** Changes the heartbeat interval: a `config` command to the depot, applied when it confirms. */
  heartbeatSeconds: z.number().int().min(1).max(86_400).optional(),
});

export const HISTORY_SOURCES = ['depot', 'state', 'server', 'user'] as const;
export const historyQuerySchema = z.object({
  /** ISO times; entries from ≤ at < to. */
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  kind: z.string().check(atMost(64)).optional(),
  comp: z.coerce.number().int().min(1).max(255).optional(),
  /** The `cursor` of the previous page: older entries follow. */
  cursor: z.string().check(atMost(100)).optional(),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
});
export const historyEntrySchema = z.object({
  id: z.string(),
  at: z.string(),
  depotTime: z.string().nullable(),
  source: z.enum(HISTORY_SOURCES),
  kind: z.string(),
  ev: z.number().nullable(),
  comp: z.number().nullable(),
  pinId: z.string().nullable(),
  /** For whom the PIN was made: the history says who took which key. */
  pinLabel: z.string().nullable(),
  info: z.string().nullable(),
  userName: z.string().nullable(),
});
export type HistoryEntryView = z.infer<typeof historyEntrySchema>;
export const historyPageSchema = z.object({ items: z.array(historyEntrySchema), nextCursor: z.string().nullable() });

/** The longest range of a fleet history export, in days: a year, leap day included. */
export const FLEET_EXPORT_MAX_DAYS = 366;
/**
 * The fleet's history export: the export's format, a range, required (entries from ≤ at < to, at
 * most {@link FLEET_EXPORT_MAX_DAYS} days), and optionally one kind.
 */
export const fleetHistoryQuerySchema = exportQuerySchema
  .extend({
    from: z.iso.datetime({ offset: true }),
    to: z.iso.datetime({ offset: true }),
    kind: z.string().check(atMost(64)).optional(),
  })
  .refine((q) => Date.parse(q.from) < Date.parse(q.to), { message: 'must be after from', path: ['to'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= FLEET_EXPORT_MAX_DAYS * 86_400_000, {
    message: `must be at most ${FLEET_EXPORT_MAX_DAYS} days after from`,
    path: ['to'],
  });

/** A manual entry: something that happened outside the depot. */
export const MANUAL_KINDS = ['handover', 'note'] as const;
export const manualEntrySchema = z.object({
  kind: z.enum(MANUAL_KINDS),
  comp: z.number().int().min(1).max(255).optional(),
  text: z.string().trim().check(atLeast(1)).check(atMost(500)),
});

export const COMMAND_STATES = ['queued', 'sent', 'succeeded', 'failed', 'expired'] as const;
export const commandViewSchema = z.object({
  id: z.string(),
  cmd: z.number(),
  op: z.string(),
  comp: z.number().nullable(),
  pinId: z.string().nullable(),
  state: z.enum(COMMAND_STATES),
  attempts: z.number(),
  error: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  sentAt: z.string().nullable(),
  settledAt: z.string().nullable(),
  userName: z.string().nullable(),
});
export type CommandView = z.infer<typeof commandViewSchema>;
export const commandListSchema = z.object({ items: z.array(commandViewSchema), total: z.number() });
/** Commands users send directly; PINs and keys have their own endpoints. */
export const commandCreateSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('open'), comp: z.number().int().min(1).max(255) }),
]);

export const pinCreateSchema = z.object({
  comp: z.number().int().min(1).max(255),
  /** For whom: shown beside every use in the history. */
  label: z.string().trim().check(atLeast(1)).check(atMost(100)),
  digits: z.number().int().min(4).max(10).default(6),
  validFrom: z.iso.datetime({ offset: true }).optional(),
  validUntil: z.iso.datetime({ offset: true }).optional(),
  uses: z.number().int().min(1).max(10_000).optional(),
  /** The key must be back by then, or the depot raises an overdue alarm. */
  returnBy: z.iso.datetime({ offset: true }).optional(),
  /** The portal account the PIN is for, if any: its erasure waits while the PIN is valid. */
  holderEmail: z.email().check(atMost(254)).optional(),
});
export const PIN_STATES = ['pending', 'active', 'revoking', 'revoked', 'failed'] as const;
export const pinViewSchema = z.object({
  pinId: z.string(),
  comp: z.number(),
  label: z.string(),
  validFrom: z.string().nullable(),
  validUntil: z.string().nullable(),
  uses: z.number().nullable(),
  usesSeen: z.number(),
  returnBy: z.string().nullable(),
  state: z.enum(PIN_STATES),
  createdAt: z.string(),
});
export type PinView = z.infer<typeof pinViewSchema>;
export const pinListSchema = z.object({ items: z.array(pinViewSchema) });
/** A new PIN: its digits are shown now, and again only on an explicit, audited request. */
export const pinCreatedSchema = z.object({ pin: pinViewSchema, digits: z.string() });
export const pinRevealSchema = z.object({ digits: z.string() });

export const grantViewSchema = z.object({
  userId: z.string(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  role: depotRoleSchema,
  createdAt: z.string(),
});
export const grantListSchema = z.object({ items: z.array(grantViewSchema) });
export const grantSetSchema = z.object({ role: depotRoleSchema });

export const alarmClearSchema = z.object({ kind: alarmKindSchema, comp: z.number().int().min(1).max(255).optional() });
