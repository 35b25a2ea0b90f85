/**
 * The 22-byte telegram header of depot-protocol.md, version 1. All integers big-endian.
 *
 * | 0 magic "KD" | 2 version | 3 type | 4 depot id (u64) | 12 key id | 13 flags | 14 epoch (u32) | 18 seq (u32) |
 */
export const MAGIC = 0x4b44;
export const VERSION = 1;
export const HEADER_BYTES = 22;
export const TAG_BYTES = 16;
/** The largest datagram the protocol allows; anything longer is dropped unread. */
export const MAX_TELEGRAM_BYTES = 1200;
export const MAX_U32 = 0xffff_ffff;

/** Telegram types, depot → server (0x0_) and server → depot (0x8_). */
export const TelegramType = {
  HELLO: 0x01,
  HEARTBEAT: 0x02,
  EVENT: 0x03,
  RESULT: 0x04,
  ACK: 0x81,
  COMMAND: 0x82,
} as const;
export type TelegramTypeName = keyof typeof TelegramType;
export type TelegramTypeCode = (typeof TelegramType)[TelegramTypeName];

const TYPE_NAMES = new Map<number, TelegramTypeName>(
  Object.entries(TelegramType).map(([name, code]) => [code, name as TelegramTypeName]),
);

/** The name of a type code, or undefined for an unknown one. */
export function typeName(code: number): TelegramTypeName | undefined {
  return TYPE_NAMES.get(code);
}

/** True for the types a depot sends. */
export function isDepotToServer(code: number): boolean {
  return code >= 0x01 && code <= 0x04;
}

export interface TelegramHeader {
  type: TelegramTypeCode;
  /** The depot id as an unsigned 64-bit integer. */
  depotId: bigint;
  keyId: number;
  epoch: number;
  seq: number;
}

/** Why a datagram was dropped before or during authentication (the metrics label). */
export type DropReason = 'too_long' | 'too_short' | 'bad_magic' | 'bad_version' | 'bad_flags' | 'unknown_type';

/** Reads the header, or says why the datagram is not a telegram. Never throws. */
export function parseHeader(
  datagram: Uint8Array,
): { ok: true; header: TelegramHeader } | { ok: false; reason: DropReason } {
  if (datagram.length > MAX_TELEGRAM_BYTES) return { ok: false, reason: 'too_long' };
  if (datagram.length < HEADER_BYTES + TAG_BYTES) return { ok: false, reason: 'too_short' };
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  if (view.getUint16(0) !== MAGIC) return { ok: false, reason: 'bad_magic' };
  if (view.getUint8(2) !== VERSION) return { ok: false, reason: 'bad_version' };
  const type = view.getUint8(3);
  if (!TYPE_NAMES.has(type)) return { ok: false, reason: 'unknown_type' };
  if (view.getUint8(13) !== 0) return { ok: false, reason: 'bad_flags' };
  return {
    ok: true,
    header: {
      type: type as TelegramTypeCode,
      depotId: view.getBigUint64(4),
      keyId: view.getUint8(12),
      epoch: view.getUint32(14),
      seq: view.getUint32(18),
    },
  };
}

/** Writes the 22 header bytes. Throws for values outside their fields (a programmer error). */
export function encodeHeader(header: TelegramHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  if (header.depotId < 0n || header.depotId > 0xffff_ffff_ffff_ffffn) throw new RangeError('depot id out of range');
  if (!Number.isInteger(header.keyId) || header.keyId < 0 || header.keyId > 255)
    throw new RangeError('key id out of range');
  for (const [name, value] of [
    ['epoch', header.epoch],
    ['seq', header.seq],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > MAX_U32) throw new RangeError(`${name} out of range`);
  }
  view.setUint16(0, MAGIC);
  view.setUint8(2, VERSION);
  view.setUint8(3, header.type);
  view.setBigUint64(4, header.depotId);
  view.setUint8(12, header.keyId);
  view.setUint8(13, 0);
  view.setUint32(14, header.epoch);
  view.setUint32(18, header.seq);
  return bytes;
}

/** A depot id as people see it: 16 hex digits. */
export function formatDepotId(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}

/** Parses 16 hex digits into a depot id, or undefined. */
export function parseDepotId(text: string): bigint | undefined {
  return /^[0-9a-fA-F]{16}$/.test(text) ? BigInt(`0x${text}`) : undefined;
}
