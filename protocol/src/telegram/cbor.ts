import { encode as cborxEncode } from 'cbor-x';
import { decode as cborgDecode } from 'cborg';

/**
 * Encodes a payload map. cbor-x writes what the spec's test vectors hold byte for byte (maps with a
 * 16-bit length, keys in insertion order, integers beyond 32 bits as float64), so our telegrams
 * match an independent implementation's.
 */
export function encodePayload(payload: Record<string, unknown>): Uint8Array {
  return cborxEncode(plainBytes(payload));
}

/**
 * cbor-x writes a Uint8Array as a tagged typed array (tag 64), which the spec forbids ("no
 * tags"); a Buffer it writes as a plain byte string. Byte strings are handed over as Buffers.
 */
function plainBytes(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(plainBytes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainBytes(v)]));
  }
  return value;
}

/**
 * Decodes one CBOR data item as the spec demands: any valid encoding (indefinite or non-preferred
 * lengths) but no tags, no `undefined`, no duplicate keys, text keys only, nothing after the item.
 * cborg is strict about exactly these things where cbor-x is lenient. Returns undefined for
 * anything else; never throws.
 */
export function decodePayload(bytes: Uint8Array): unknown {
  try {
    return cborgDecode(bytes, {
      tags: [],
      allowUndefined: false,
      allowIndefinite: true,
      rejectDuplicateMapKeys: true,
      useMaps: false,
      strict: false,
    });
  } catch {
    return undefined;
  }
}
