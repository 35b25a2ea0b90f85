/**
 * An independent CBOR writer and the spec's reading of it, for the decoder property tests. The
 * writer chooses every encoding freedom RFC 8949 allows (argument widths, indefinite lengths,
 * half/single/double floats), so the decoder meets what a depot built by a third party may send.
 */
import fc from 'fast-check';

/** A CBOR data item as written on the wire. */
export type Cbor =
  | { t: 'uint'; v: bigint; width?: Width }
  | { t: 'nint'; v: bigint; width?: Width }
  | { t: 'bytes'; v: Uint8Array; chunks?: number[] }
  | { t: 'text'; v: string; chunks?: number[] }
  | { t: 'array'; items: Cbor[]; indefinite?: boolean }
  | { t: 'map'; entries: [Cbor, Cbor][]; indefinite?: boolean }
  | { t: 'tag'; tag: number; item: Cbor }
  | { t: 'simple'; v: 'false' | 'true' | 'null' | 'undefined' }
  | { t: 'float'; v: number; size: 2 | 4 | 8 };

/** Bytes of the argument: 0 means the preferred (shortest) one. */
type Width = 0 | 1 | 2 | 4 | 8;

function head(major: number, arg: bigint, width: Width = 0): number[] {
  const m = major << 5;
  let w = width;
  if (w === 0) w = arg < 24n ? 0 : arg < 0x100n ? 1 : arg < 0x10000n ? 2 : arg < 0x1_0000_0000n ? 4 : 8;
  // A width too small for the argument falls back to the preferred one.
  const limit = w === 0 ? 24n : 1n << BigInt(8 * w);
  if (arg >= limit) return head(major, arg, 0);
  if (w === 0) return [m | Number(arg)];
  const bytes: number[] = [];
  for (let i = w - 1; i >= 0; i--) bytes.push(Number((arg >> BigInt(8 * i)) & 0xffn));
  return [m | { 1: 24, 2: 25, 4: 26, 8: 27 }[w], ...bytes];
}

function halfBits(v: number): number {
  // Only values a half float holds exactly are generated (see `halfFloat`).
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  let exp = Math.floor(Math.log2(a));
  if (exp < -14) return sign | Math.round(a / 2 ** -24);
  let mant = a / 2 ** exp - 1;
  if (mant >= 1) {
    exp += 1;
    mant = a / 2 ** exp - 1;
  }
  return sign | ((exp + 15) << 10) | Math.round(mant * 1024);
}

/** Splits at the given positions (clamped), for indefinite-length strings. */
function pieces<T extends { length: number; slice(a: number, b: number): T }>(value: T, cuts: number[]): T[] {
  const at = [...new Set(cuts.map((c) => Math.min(c, value.length)))].sort((a, b) => a - b);
  const out: T[] = [];
  let start = 0;
  for (const c of [...at, value.length]) {
    out.push(value.slice(start, c));
    start = c;
  }
  return out;
}

/** The bytes of a data item. */
export function writeCbor(item: Cbor): number[] {
  const out: number[] = [];
  writeInto(item, out);
  return out;
}

function writeInto(item: Cbor, out: number[]): void {
  const push = (bytes: Iterable<number>) => {
    for (const b of bytes) out.push(b);
  };
  switch (item.t) {
    case 'uint':
      return push(head(0, item.v, item.width));
    case 'nint':
      return push(head(1, item.v, item.width));
    case 'bytes':
      if (!item.chunks) return push([...head(2, BigInt(item.v.length)), ...item.v]);
      return push([0x5f, ...pieces(item.v, item.chunks).flatMap((p) => [...head(2, BigInt(p.length)), ...p]), 0xff]);
    case 'text': {
      const utf8 = (s: string) => [...new TextEncoder().encode(s)];
      if (!item.chunks) return push([...head(3, BigInt(utf8(item.v).length)), ...utf8(item.v)]);
      // Split between code points so that every chunk is valid UTF-8 on its own, as RFC 8949 demands.
      const points = pieces([...item.v], item.chunks).map((p) => p.join(''));
      return push([0x7f, ...points.flatMap((p) => [...head(3, BigInt(utf8(p).length)), ...utf8(p)]), 0xff]);
    }
    case 'array':
      push(item.indefinite ? [0x9f] : head(4, BigInt(item.items.length)));
      for (const child of item.items) writeInto(child, out);
      if (item.indefinite) out.push(0xff);
      return;
    case 'map':
      push(item.indefinite ? [0xbf] : head(5, BigInt(item.entries.length)));
      for (const [k, v] of item.entries) {
        writeInto(k, out);
        writeInto(v, out);
      }
      if (item.indefinite) out.push(0xff);
      return;
    case 'tag':
      push(head(6, BigInt(item.tag)));
      return writeInto(item.item, out);
    case 'simple':
      return push([{ false: 0xf4, true: 0xf5, null: 0xf6, undefined: 0xf7 }[item.v]]);
    case 'float': {
      if (item.size === 2) {
        const bits = halfBits(item.v);
        return push([0xf9, bits >> 8, bits & 0xff]);
      }
      const view = new DataView(new ArrayBuffer(item.size));
      if (item.size === 4) view.setFloat32(0, item.v);
      else view.setFloat64(0, item.v);
      return push([item.size === 4 ? 0xfa : 0xfb, ...new Uint8Array(view.buffer)]);
    }
  }
}

/** Marker of an item the spec forbids: a tag, `undefined`, a non-text key or a repeated key. */
export const FORBIDDEN = Symbol('forbidden');

/**
 * What the spec says a receiver makes of an item: maps with text keys become objects whose keys
 * are all own properties (`__proto__` too: an unknown key like any other), integers beyond 2^53
 * stay exact as bigints.
 */
export function specValue(item: Cbor): unknown {
  switch (item.t) {
    case 'uint':
      return item.v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(item.v) : item.v;
    case 'nint': {
      const v = -1n - item.v;
      return v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
    }
    case 'bytes':
      return item.v;
    case 'text':
      return item.v;
    case 'array': {
      const items = item.items.map(specValue);
      return items.includes(FORBIDDEN) ? FORBIDDEN : items;
    }
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of item.entries) {
        if (k.t !== 'text' || Object.hasOwn(out, k.v)) return FORBIDDEN;
        const value = specValue(v);
        if (value === FORBIDDEN) return FORBIDDEN;
        Object.defineProperty(out, k.v, { value, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'tag':
      return FORBIDDEN;
    case 'simple':
      return item.v === 'undefined' ? FORBIDDEN : { false: false, true: true, null: null }[item.v];
    case 'float':
      return item.v;
  }
}

/** How a JS value is written: any of the encodings a depot may choose for it. */
export function cborOf(value: unknown): fc.Arbitrary<Cbor> {
  if (typeof value === 'string') {
    return fc.option(fc.array(fc.nat(value.length), { maxLength: 3 }), { nil: undefined }).map((chunks) => ({
      t: 'text' as const,
      v: value,
      chunks,
    }));
  }
  if (typeof value === 'boolean') return fc.constant({ t: 'simple', v: value ? 'true' : 'false' });
  if (value === null) return fc.constant({ t: 'simple', v: 'null' });
  if (typeof value === 'number') {
    const asFloat = fc.constant<Cbor>({ t: 'float', v: value, size: 8 });
    if (!Number.isInteger(value) || Object.is(value, -0)) return asFloat;
    const width = fc.constantFrom<Width>(0, 0, 1, 2, 4, 8);
    const int = width.map<Cbor>((w) =>
      value >= 0 ? { t: 'uint', v: BigInt(value), width: w } : { t: 'nint', v: -1n - BigInt(value), width: w },
    );
    return fc.oneof(int, asFloat);
  }
  if (value instanceof Uint8Array) {
    return fc.option(fc.array(fc.nat(value.length), { maxLength: 3 }), { nil: undefined }).map((chunks) => ({
      t: 'bytes' as const,
      v: value,
      chunks,
    }));
  }
  if (Array.isArray(value)) {
    return fc
      .tuple(fc.tuple(...value.map(cborOf)), fc.boolean())
      .map(([items, indefinite]) => ({ t: 'array' as const, items, indefinite }));
  }
  const entries = Object.entries(value as Record<string, unknown>);
  return fc
    .tuple(fc.tuple(...entries.map(([k, v]) => fc.tuple(cborOf(k), cborOf(v)))), fc.boolean())
    .map(([pairs, indefinite]) => ({ t: 'map' as const, entries: pairs, indefinite }));
}

/** Floats a half-precision item holds exactly. */
const halfFloat = fc.constantFrom(0, -0, 1, -2, 1.5, 0.333251953125, 65504, 2 ** -24, Infinity, -Infinity, NaN);

/** Text keys, the hostile ones often. */
export const hostileKeyName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'fw', 'comps', 'op', 'cmd', 'key'),
  fc.string({ maxLength: 6 }),
);
const textKey: fc.Arbitrary<Cbor> = hostileKeyName.map((v) => ({ t: 'text', v }));

/** Any CBOR item, forbidden ones included, with hostile keys and numbers. */
export const anyCbor: fc.Arbitrary<Cbor> = fc.letrec<{ item: Cbor }>((tie) => ({
  item: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({
      t: fc.constant('uint' as const),
      v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      width: fc.constantFrom<Width>(0, 1, 2, 4, 8),
    }),
    fc.record({
      t: fc.constant('nint' as const),
      v: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      width: fc.constantFrom<Width>(0, 1, 2, 4, 8),
    }),
    fc.record({ t: fc.constant('text' as const), v: fc.string({ unit: 'grapheme', maxLength: 20 }) }),
    fc.record({ t: fc.constant('bytes' as const), v: fc.uint8Array({ maxLength: 20 }) }),
    fc.record({
      t: fc.constant('simple' as const),
      v: fc.constantFrom('false' as const, 'true' as const, 'null' as const, 'undefined' as const),
    }),
    fc.record({ t: fc.constant('float' as const), v: halfFloat, size: fc.constant(2 as const) }),
    fc
      .record({ t: fc.constant('float' as const), v: fc.float(), size: fc.constant(4 as const) })
      .map((f) => ({ ...f, v: Math.fround(f.v) })),
    fc.record({ t: fc.constant('float' as const), v: fc.double(), size: fc.constant(8 as const) }),
    fc.record({ t: fc.constant('tag' as const), tag: fc.nat(300), item: tie('item') }),
    fc.record({
      t: fc.constant('array' as const),
      items: fc.array(tie('item'), { maxLength: 4 }),
      indefinite: fc.boolean(),
    }),
    fc.record({
      t: fc.constant('map' as const),
      entries: fc.array(fc.tuple(fc.oneof(textKey, tie('item')), tie('item')), { maxLength: 4 }),
      indefinite: fc.boolean(),
    }),
  ),
})).item;
