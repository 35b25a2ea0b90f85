import { encode as cborxEncode } from 'cbor-x';
import { Token, Tokenizer, Type, decode as cborgDecode } from 'cborg';

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
 *
 * Maps are read as `Map`s and then made plain objects with every key an own property: read
 * straight into an object, a `__proto__` key would set the object's prototype, so that fields
 * hidden under it passed for the payload's own and the key escaped the duplicate check.
 */
export function decodePayload(bytes: Uint8Array): unknown {
  try {
    const options = {
      tags: [],
      allowUndefined: false,
      allowIndefinite: true,
      rejectDuplicateMapKeys: true,
      useMaps: true,
      strict: false,
      // cborg's own default, which a tokenizer handed in does not get: integers beyond 2^53 stay exact.
      allowBigInt: true,
    };
    // A plain Uint8Array view: byte strings then decode as Uint8Arrays, not as slices of a Buffer.
    const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return plainObjects(cborgDecode(data, { ...options, tokenizer: new IndefiniteStrings(data, options) }));
  } catch {
    return undefined;
  }
}

/** Maps to plain objects (text keys only, each an own property), recursively. Throws for other keys. */
function plainObjects(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainObjects);
  if (!(value instanceof Map)) return value;
  const entries = [...value].map(([k, v]): [string, unknown] => {
    if (typeof k !== 'string') throw new TypeError('map keys must be text');
    return [k, plainObjects(v)];
  });
  // fromEntries defines properties; it never invokes the __proto__ setter.
  return Object.fromEntries(entries);
}

const INDEFINITE_BYTES = 0x5f;
const INDEFINITE_TEXT = 0x7f;

/**
 * cborg's tokenizer, plus the indefinite-length byte and text strings it refuses: the chunks of one
 * (definite strings of the same type, RFC 8949 §3.2.3) are joined into a single token.
 */
class IndefiniteStrings extends Tokenizer {
  override next(): Token {
    const first = this.data[this.pos()];
    if (first !== INDEFINITE_BYTES && first !== INDEFINITE_TEXT) return super.next();
    const start = this.pos();
    const type = first === INDEFINITE_BYTES ? Type.bytes : Type.string;
    this._pos += 1;
    const chunks: Token[] = [];
    for (;;) {
      if (this.done()) throw new Error('indefinite-length string without its break');
      const byte = this.data[this.pos()];
      if (byte === 0xff) {
        this._pos += 1;
        break;
      }
      if (byte === INDEFINITE_BYTES || byte === INDEFINITE_TEXT) throw new Error('nested indefinite-length string');
      const chunk = super.next();
      if (chunk.type !== type) throw new Error('chunk of another type in an indefinite-length string');
      chunks.push(chunk);
    }
    const value =
      type === Type.bytes
        ? Uint8Array.from(Buffer.concat(chunks.map((c) => c.value as Uint8Array)))
        : chunks.map((c) => c.value as string).join('');
    return new Token(type, value, this.pos() - start);
  }
}
