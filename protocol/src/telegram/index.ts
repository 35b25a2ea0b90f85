/**
 * The depot telegram codec of depot-protocol.md v1: header, AES-256-GCM seal/open, CBOR payloads
 * validated per type, and the anti-replay window. Uses Node's crypto: server and scripts import it,
 * the web never does.
 *
 * @example
 * const parsed = parseHeader(datagram);                       // cheap, before any key lookup
 * if (!parsed.ok) drop(parsed.reason);
 * const opened = openTelegram(key, Direction.DEPOT_TO_SERVER, parsed.header, datagram);
 */
import { decodePayload, encodePayload } from './cbor.js';
import { TelegramType, isDepotToServer, typeName, type TelegramHeader, type TelegramTypeName } from './header.js';
import {
  PAYLOAD_SCHEMAS,
  type AckPayload,
  type CommandPayload,
  type EventPayload,
  type HeartbeatPayload,
  type HelloPayload,
  type ResultPayload,
} from './payloads.js';
import { Direction, open, seal, type DirectionByte } from './seal.js';

export * from './header.js';
export * from './payloads.js';
export * from './replay-window.js';
export { Direction, type DirectionByte } from './seal.js';
export { decodePayload, encodePayload } from './cbor.js';

/** A decoded telegram: its type and its validated payload. */
export type Telegram =
  | { name: 'HELLO'; payload: HelloPayload }
  | { name: 'HEARTBEAT'; payload: HeartbeatPayload }
  | { name: 'EVENT'; payload: EventPayload }
  | { name: 'RESULT'; payload: ResultPayload }
  | { name: 'ACK'; payload: AckPayload }
  | { name: 'COMMAND'; payload: CommandPayload };

/** Why an authenticated-looking datagram was still dropped. */
export type OpenFailure = 'wrong_direction' | 'bad_tag' | 'bad_cbor' | 'bad_payload';

/**
 * Authenticates and decodes a telegram whose header parsed, with the key for its depot and key id.
 * Checks the direction, the tag, the CBOR rules and the type's payload schema. Never throws.
 */
export function openTelegram(
  key: Uint8Array,
  dir: DirectionByte,
  header: TelegramHeader,
  datagram: Uint8Array,
): { ok: true; telegram: Telegram } | { ok: false; reason: OpenFailure } {
  const name = typeName(header.type);
  if (!name || isDepotToServer(header.type) !== (dir === Direction.DEPOT_TO_SERVER))
    return { ok: false, reason: 'wrong_direction' };
  const plaintext = open(key, dir, header, datagram);
  if (!plaintext) return { ok: false, reason: 'bad_tag' };
  const decoded = decodePayload(plaintext);
  if (
    decoded === undefined ||
    decoded === null ||
    typeof decoded !== 'object' ||
    Array.isArray(decoded) ||
    decoded instanceof Uint8Array
  ) {
    return { ok: false, reason: 'bad_cbor' };
  }
  const parsed = PAYLOAD_SCHEMAS[name].safeParse(decoded);
  if (!parsed.success) return { ok: false, reason: 'bad_payload' };
  return { ok: true, telegram: { name, payload: parsed.data } as Telegram };
}

/** Seals a telegram of a named type (the payload is validated first: a programmer error throws). */
export function sealTelegram(
  key: Uint8Array,
  dir: DirectionByte,
  header: Omit<TelegramHeader, 'type'> & { name: TelegramTypeName },
  payload: Record<string, unknown>,
): Buffer {
  PAYLOAD_SCHEMAS[header.name].parse(payload);
  const { name, ...rest } = header;
  return seal(key, dir, { ...rest, type: TelegramType[name] }, encodePayload(payload));
}
