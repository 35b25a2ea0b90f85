import { createCipheriv, createDecipheriv } from 'node:crypto';
import { HEADER_BYTES, TAG_BYTES, encodeHeader, type TelegramHeader } from './header.js';

/** Direction byte of the nonce: `D` for depot → server, `S` for server → depot. */
export const Direction = { DEPOT_TO_SERVER: 0x44, SERVER_TO_DEPOT: 0x53 } as const;
export type DirectionByte = (typeof Direction)[keyof typeof Direction];

/** The 12-byte nonce: dir ‖ 00 00 00 ‖ epoch ‖ seq. Unique as long as (epoch, seq) never repeats per key and direction. */
function nonce(dir: DirectionByte, epoch: number, seq: number): Buffer {
  const n = Buffer.alloc(12);
  n[0] = dir;
  n.writeUInt32BE(epoch, 4);
  n.writeUInt32BE(seq, 8);
  return n;
}

/** Seals a CBOR payload: header ‖ AES-256-GCM ciphertext ‖ tag, with the header as additional data. */
export function seal(key: Uint8Array, dir: DirectionByte, header: TelegramHeader, payload: Uint8Array): Buffer {
  if (key.length !== 32) throw new RangeError('a depot key has 32 bytes');
  const head = encodeHeader(header);
  const cipher = createCipheriv('aes-256-gcm', key, nonce(dir, header.epoch, header.seq));
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(payload), cipher.final()]);
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

/**
 * Opens a telegram whose header was already parsed: returns the plaintext payload, or undefined
 * when the tag does not verify (wrong key, tampered, truncated). Never throws for hostile input.
 */
export function open(
  key: Uint8Array,
  dir: DirectionByte,
  header: TelegramHeader,
  datagram: Uint8Array,
): Buffer | undefined {
  if (key.length !== 32 || datagram.length < HEADER_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(dir, header.epoch, header.seq));
    decipher.setAAD(datagram.subarray(0, HEADER_BYTES));
    decipher.setAuthTag(datagram.subarray(datagram.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(datagram.subarray(HEADER_BYTES, datagram.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}
