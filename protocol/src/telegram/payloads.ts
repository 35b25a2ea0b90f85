import { z } from 'zod';
import { atLeast, atMost } from '../length.js';

/** Unsigned integer that fits a JS number exactly. */
const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().check(atMost(max));

/** Event kinds the spec names. Unknown kinds are kept as they are. */
export const EVENT_KINDS = [
  'key_removed',
  'key_returned',
  'door_opened',
  'door_closed',
  'door_open_too_long',
  'pin_accepted',
  'pin_rejected',
  'tamper',
  'power_lost',
  'power_restored',
] as const;
export type KnownEventKind = (typeof EVENT_KINDS)[number];

/** HELLO (0x01): the depot started. Unknown keys are ignored (zod strips them). */
export const helloSchema = z.object({
  fw: text(64),
  hw: text(64),
  comps: uint.max(255),
  reason: text(64).optional(),
});

export const compartmentStateSchema = z.object({ n: uint.min(1).max(255), key: z.boolean(), locked: z.boolean() });

/** HEARTBEAT (0x02): the depot's current state. */
export const heartbeatSchema = z.object({
  up: uint,
  door: z.enum(['open', 'closed']),
  comps: z.array(compartmentStateSchema).check(atMost(255)),
  power: z.enum(['mains', 'battery']),
  batt: uint.max(100).optional(),
  rssi: z.number().int().min(-200).max(50).optional(),
  temp: z.number().finite().min(-100).max(200).optional(),
});

/** EVENT (0x03): something happened; repeated until its number comes back in an ACK. */
export const eventSchema = z.object({
  ev: uint,
  t: uint,
  kind: text(64).check(atLeast(1)),
  comp: uint.max(255).optional(),
  pin: text(64).optional(),
  info: text(500).optional(),
});

/** RESULT (0x04): the outcome of a command. */
export const resultSchema = z.object({ cmd: uint, ok: z.boolean(), err: text(200).optional() });

/** ACK (0x81): server → depot. */
export const ackSchema = z.object({ ack: uint, ev: z.array(uint).check(atMost(64)).optional(), t: uint });

const pinDigits = z.string().regex(/^\d{4,10}$/);
/** COMMAND (0x82) ops and their arguments. */
export const commandSchema = z.discriminatedUnion('op', [
  z.object({
    cmd: uint,
    op: z.literal('set_pin'),
    comp: uint.min(1).max(255),
    pin: pinDigits,
    pinId: text(64).check(atLeast(1)),
    from: uint.optional(),
    until: uint.optional(),
    uses: uint.optional(),
  }),
  z.object({ cmd: uint, op: z.literal('revoke_pin'), pinId: text(64).check(atLeast(1)) }),
  z.object({ cmd: uint, op: z.literal('open'), comp: uint.min(1).max(255) }),
  z.object({ cmd: uint, op: z.literal('config'), hb: uint.min(1).max(86_400).optional() }),
  z.object({
    cmd: uint,
    op: z.literal('rekey'),
    keyId: uint.max(255),
    key: z.instanceof(Uint8Array).refine((k) => k.length === 32, 'a key has 32 bytes'),
  }),
]);

export type HelloPayload = z.infer<typeof helloSchema>;
export type HeartbeatPayload = z.infer<typeof heartbeatSchema>;
export type EventPayload = z.infer<typeof eventSchema>;
export type ResultPayload = z.infer<typeof resultSchema>;
export type AckPayload = z.infer<typeof ackSchema>;
export type CommandPayload = z.infer<typeof commandSchema>;

/** The schema of each type's payload. */
export const PAYLOAD_SCHEMAS = {
  HELLO: helloSchema,
  HEARTBEAT: heartbeatSchema,
  EVENT: eventSchema,
  RESULT: resultSchema,
  ACK: ackSchema,
  COMMAND: commandSchema,
} as const;
