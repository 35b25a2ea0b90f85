import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Direction,
  HEADER_BYTES,
  MAX_TELEGRAM_BYTES,
  PAYLOAD_SCHEMAS,
  TAG_BYTES,
  TelegramType,
  accept,
  decodePayload,
  emptyReplayState,
  openTelegram,
  parseHeader,
  sealTelegram,
  wouldAccept,
  type DirectionByte,
  type ReplayState,
  type TelegramHeader,
  type TelegramTypeName,
} from '../../../protocol/src/telegram/index.js';
import { seal } from '../../../protocol/src/telegram/seal.js';
import { FORBIDDEN, anyCbor, cborOf, hostileKeyName, specValue, writeCbor, type Cbor } from './cbor-model.js';

/**
 * The telegram decoder of depot-protocol.md against what a datagram from anywhere may hold. The
 * spec: "Nothing a datagram holds may crash or stall the server."
 */
const RUNS = 300;
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const DROP_REASONS = ['too_long', 'too_short', 'bad_magic', 'bad_version', 'bad_flags', 'unknown_type'];
const OPEN_FAILURES = ['wrong_direction', 'bad_tag', 'bad_cbor', 'bad_payload'];
const NAMES = Object.keys(TelegramType) as TelegramTypeName[];

function directionOf(name: TelegramTypeName): DirectionByte {
  return TelegramType[name] < 0x80 ? Direction.DEPOT_TO_SERVER : Direction.SERVER_TO_DEPOT;
}

/** What a receiver does with a datagram: parse the header, then open it. Throws nothing, or the test fails. */
function receive(datagram: Uint8Array, dir: DirectionByte, key: Uint8Array = KEY) {
  const parsed = parseHeader(datagram);
  if (!parsed.ok) return parsed;
  return openTelegram(key, dir, parsed.header, datagram);
}

// ─── Generated valid payloads, one arbitrary per type ────────────────────────────────────────────

const uint = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());
const text = (max: number, min = 0) =>
  fc.string({ unit: 'grapheme', minLength: min, maxLength: max }).filter((s) => s.length <= max);

const PAYLOADS: Record<TelegramTypeName, fc.Arbitrary<Record<string, unknown>>> = {
  HELLO: fc.record(
    { fw: text(64), hw: text(64), comps: fc.nat(255), reason: text(64) },
    { requiredKeys: ['fw', 'hw', 'comps'] },
  ),
  HEARTBEAT: fc.record(
    {
      up: uint,
      door: fc.constantFrom('open', 'closed'),
      comps: fc.array(fc.record({ n: fc.integer({ min: 1, max: 255 }), key: fc.boolean(), locked: fc.boolean() }), {
        maxLength: 8,
      }),
      power: fc.constantFrom('mains', 'battery'),
      batt: fc.nat(100),
      rssi: fc.integer({ min: -200, max: 50 }),
      // -0 is written as 0 by the encoder: a depot cannot tell them apart either.
      temp: fc.double({ min: -100, max: 200, noNaN: true }).map((t) => (t === 0 ? 0 : t)),
    },
    { requiredKeys: ['up', 'door', 'comps', 'power'] },
  ),
  EVENT: fc.record(
    { ev: uint, t: uint, kind: text(64, 1), comp: fc.nat(255), pin: text(64), info: text(500) },
    { requiredKeys: ['ev', 't', 'kind'] },
  ),
  RESULT: fc.record({ cmd: uint, ok: fc.boolean(), err: text(200) }, { requiredKeys: ['cmd', 'ok'] }),
  ACK: fc.record({ ack: uint, ev: fc.array(uint, { maxLength: 64 }), t: uint }, { requiredKeys: ['ack', 't'] }),
  COMMAND: fc.oneof(
    fc.record(
      {
        cmd: uint,
        op: fc.constant('set_pin'),
        comp: fc.integer({ min: 1, max: 255 }),
        pin: fc.stringMatching(/^\d{4,10}$/),
        pinId: text(64, 1),
        from: uint,
        until: uint,
        uses: uint,
      },
      { requiredKeys: ['cmd', 'op', 'comp', 'pin', 'pinId'] },
    ),
    fc.record({ cmd: uint, op: fc.constant('revoke_pin'), pinId: text(64, 1) }),
    fc.record({ cmd: uint, op: fc.constant('open'), comp: fc.integer({ min: 1, max: 255 }) }),
    fc.record(
      { cmd: uint, op: fc.constant('config'), hb: fc.integer({ min: 1, max: 86_400 }) },
      { requiredKeys: ['cmd', 'op'] },
    ),
    fc.record({
      cmd: uint,
      op: fc.constant('rekey'),
      keyId: fc.nat(255),
      key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    }),
  ),
};

const headerFields = fc.record({
  depotId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  keyId: fc.nat(255),
  epoch: fc.nat({ max: 0xffff_ffff }),
  seq: fc.nat({ max: 0xffff_ffff }),
});

/** A telegram of any type with a valid payload, sealed as its sender would. */
const sealedTelegram = fc
  .constantFrom(...NAMES)
  .chain((name) => fc.record({ name: fc.constant(name), payload: PAYLOADS[name], fields: headerFields }))
  .map(({ name, payload, fields }) => ({
    name,
    payload,
    fields,
    dir: directionOf(name),
    datagram: sealTelegram(KEY, directionOf(name), { ...fields, name }, payload),
  }));

/** A sealed telegram that fits a datagram (a long EVENT text may not: see the size test). */
const fittingTelegram = sealedTelegram.filter((t) => t.datagram.length <= MAX_TELEGRAM_BYTES);

// ─── Header ──────────────────────────────────────────────────────────────────────────────────────

describe('telegram header', () => {
  /** Bytes that often get past the magic: KD, a version, a type, and anything after. */
  const headerish = fc
    .tuple(
      fc.constantFrom(0, 1, 1, 1, 2, 255),
      fc.constantFrom(...Object.values(TelegramType), 0, 0x05, 0x80, 0x83, 0xff),
      fc.uint8Array({ maxLength: 1300 }),
      fc.constantFrom(0, 0, 0, 1, 0x80),
    )
    .map(([version, type, rest, flags]) => {
      const bytes = Uint8Array.from([0x4b, 0x44, version, type, ...rest]);
      if (bytes.length > 13) bytes[13] = flags;
      return bytes;
    });
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 2000 }), headerish);

  it('reads any bytes without throwing, exactly as the layout table says', () => {
    fc.assert(
      fc.property(anyBytes, fc.nat(7), (bytes, offset) => {
        // Datagrams arrive as views into a larger buffer: the offset must not matter.
        const backing = new Uint8Array(offset + bytes.length);
        backing.set(bytes, offset);
        const datagram = backing.subarray(offset);
        const parsed = parseHeader(datagram);
        const known = (Object.values(TelegramType) as number[]).includes(bytes[3] ?? -1);
        const expected =
          bytes.length > MAX_TELEGRAM_BYTES
            ? 'too_long'
            : bytes.length < HEADER_BYTES + TAG_BYTES
              ? 'too_short'
              : bytes[0] !== 0x4b || bytes[1] !== 0x44
                ? 'bad_magic'
                : bytes[2] !== 1
                  ? 'bad_version'
                  : !known
                    ? 'unknown_type'
                    : bytes[13] !== 0
                      ? 'bad_flags'
                      : 'ok';
        if (!parsed.ok) {
          expect(DROP_REASONS).toContain(parsed.reason);
          expect(parsed.reason).toBe(expected);
          return;
        }
        expect(expected).toBe('ok');
        const view = Buffer.from(bytes);
        expect(parsed.header).toEqual({
          type: bytes[3],
          depotId: view.readBigUInt64BE(4),
          keyId: bytes[12],
          epoch: view.readUInt32BE(14),
          seq: view.readUInt32BE(18),
        });
      }),
      { numRuns: 1000 },
    );
  });

  it('opens no random datagram, and never throws trying, whatever key or direction', () => {
    fc.assert(
      fc.property(
        anyBytes,
        fc.constantFrom(Direction.DEPOT_TO_SERVER, Direction.SERVER_TO_DEPOT),
        fc.oneof(fc.constant(KEY), fc.uint8Array({ minLength: 32, maxLength: 32 })),
        (bytes, dir, key) => {
          const result = receive(bytes, dir, key);
          expect(result.ok).toBe(false);
          if (!result.ok) expect([...DROP_REASONS, ...OPEN_FAILURES]).toContain(result.reason);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ─── Sealed telegrams ────────────────────────────────────────────────────────────────────────────

describe('sealed telegrams', () => {
  it('open to the payload they were sealed with, for every type and header', () => {
    fc.assert(
      fc.property(fittingTelegram, ({ name, payload, fields, dir, datagram }) => {
        const parsed = parseHeader(datagram);
        expect(parsed).toEqual({ ok: true, header: { ...fields, type: TelegramType[name] } });
        expect(receive(datagram, dir)).toEqual({ ok: true, telegram: { name, payload } });
      }),
      { numRuns: RUNS },
    );
  });

  it('are dropped as too long when a depot packs more than 1200 bytes, never half read', () => {
    fc.assert(
      fc.property(sealedTelegram, ({ dir, datagram }) => {
        const result = receive(datagram, dir);
        expect(result.ok).toBe(datagram.length <= MAX_TELEGRAM_BYTES);
        if (datagram.length > MAX_TELEGRAM_BYTES) expect(result).toEqual({ ok: false, reason: 'too_long' });
      }),
      { numRuns: RUNS },
    );
  });

  it('from the server always fit a datagram, even with every field at its longest', () => {
    const longest = (max: number) => '\u{10ffff}'.repeat(max / 2);
    const big = Number.MAX_SAFE_INTEGER;
    const payloads: [TelegramTypeName, Record<string, unknown>][] = [
      ['ACK', { ack: big, ev: Array.from({ length: 64 }, () => big), t: big }],
      [
        'COMMAND',
        {
          cmd: big,
          op: 'set_pin',
          comp: 255,
          pin: '9'.repeat(10),
          pinId: longest(64),
          from: big,
          until: big,
          uses: big,
        },
      ],
      ['COMMAND', { cmd: big, op: 'rekey', keyId: 255, key: new Uint8Array(32).fill(255) }],
    ];
    for (const [name, payload] of payloads) {
      const fields = { depotId: 2n ** 64n - 1n, keyId: 255, epoch: 0xffff_ffff, seq: 0xffff_ffff };
      const datagram = sealTelegram(KEY, Direction.SERVER_TO_DEPOT, { ...fields, name }, payload);
      expect(datagram.length).toBeLessThanOrEqual(MAX_TELEGRAM_BYTES);
      expect(receive(datagram, Direction.SERVER_TO_DEPOT)).toMatchObject({ ok: true });
    }
  });

  it('are dropped after any single bit flip', () => {
    fc.assert(
      fc.property(
        fittingTelegram.chain((t) => fc.record({ t: fc.constant(t), bit: fc.nat(t.datagram.length * 8 - 1) })),
        ({ t, bit }) => {
          const copy = Buffer.from(t.datagram);
          copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          expect(receive(copy, t.dir).ok).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('are dropped when cut short or lengthened', () => {
    fc.assert(
      fc.property(
        fittingTelegram.chain((t) =>
          fc.record({
            t: fc.constant(t),
            cut: fc.nat(t.datagram.length - 1),
            extra: fc.uint8Array({ minLength: 1, maxLength: 64 }),
            lengthen: fc.boolean(),
          }),
        ),
        ({ t, cut, extra, lengthen }) => {
          const changed = lengthen ? Buffer.concat([t.datagram, extra]) : t.datagram.subarray(0, cut);
          expect(receive(changed, t.dir).ok).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('are dropped with another key or in the other direction', () => {
    fc.assert(
      fc.property(fittingTelegram, fc.uint8Array({ minLength: 32, maxLength: 32 }), (t, key) => {
        fc.pre(Buffer.compare(Buffer.from(key), Buffer.from(KEY)) !== 0);
        expect(receive(t.datagram, t.dir, key)).toEqual({ ok: false, reason: 'bad_tag' });
        const other = t.dir === Direction.DEPOT_TO_SERVER ? Direction.SERVER_TO_DEPOT : Direction.DEPOT_TO_SERVER;
        expect(receive(t.datagram, other)).toEqual({ ok: false, reason: 'wrong_direction' });
      }),
      { numRuns: 100 },
    );
  });
});

// ─── CBOR payloads ───────────────────────────────────────────────────────────────────────────────

/** A valid payload written with any encoding freedom, then perhaps broken in one place. */
const payloadish: fc.Arbitrary<{ name: TelegramTypeName; item: Cbor }> = fc
  .constantFrom(...NAMES)
  .chain((name) => fc.record({ name: fc.constant(name), item: PAYLOADS[name].chain(cborOf) }))
  .chain(({ name, item }): fc.Arbitrary<{ name: TelegramTypeName; item: Cbor }> => {
    if (item.t !== 'map') return fc.constant({ name, item });
    const entries = item.entries;
    const replaced = fc
      .tuple(fc.nat(Math.max(0, entries.length - 1)), anyCbor)
      .map(([i, v]) => entries.map((e, j): [Cbor, Cbor] => (j === i ? [e[0], v] : e)));
    const removed = fc.nat(Math.max(0, entries.length - 1)).map((i) => entries.filter((_, j) => j !== i));
    const extra = fc
      .tuple(hostileKeyName, fc.oneof(anyCbor, fc.constant(item)))
      .map(([k, v]): [Cbor, Cbor][] => [...entries, [{ t: 'text', v: k }, v]]);
    // The whole valid payload again under `__proto__`: an unknown key, whatever it holds.
    const hidden = fc.constant<[Cbor, Cbor][]>([[{ t: 'text', v: '__proto__' }, item]]);
    const duplicated = fc.nat(Math.max(0, entries.length - 1)).map((i) => [...entries, ...entries.slice(i, i + 1)]);
    return fc
      .oneof(fc.constant(entries), replaced, removed, extra, hidden, duplicated)
      .map((mutated): { name: TelegramTypeName; item: Cbor } => ({ name, item: { ...item, entries: mutated } }));
  });

/** Nesting as deep as a datagram allows, definite or indefinite. */
const deep = fc.tuple(fc.integer({ min: 50, max: 1100 }), fc.boolean()).map(([depth, indefinite]) => {
  let item: Cbor = { t: 'uint', v: 0n };
  for (let i = 0; i < depth; i++) item = { t: 'array', items: [item], indefinite };
  return item;
});

function sealRaw(name: TelegramTypeName, plaintext: Uint8Array): Buffer {
  const header: TelegramHeader = { type: TelegramType[name], depotId: 0x42n, keyId: 1, epoch: 7, seq: 1 };
  return seal(KEY, directionOf(name), header, plaintext);
}

describe('CBOR payloads', () => {
  it('decode to what the spec reads, or to nothing when the spec forbids the item', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyCbor,
          payloadish.map((p) => p.item),
        ),
        (item) => {
          const expected = specValue(item);
          const decoded = decodePayload(Uint8Array.from(writeCbor(item)));
          if (expected === FORBIDDEN) expect(decoded).toBeUndefined();
          else expect(decoded).toEqual(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('nested as deep as a datagram allows decode whole', () => {
    fc.assert(
      fc.property(deep, (item) => {
        const decoded = decodePayload(Uint8Array.from(writeCbor(item)));
        // Nested arrays of 0: JSON says all there is to compare, without a deep recursive equality.
        expect(JSON.stringify(decoded)).toBe(JSON.stringify(specValue(item)));
      }),
      { numRuns: 50 },
    );
  });

  it('with trailing bytes or cut short decode to nothing', () => {
    fc.assert(
      fc.property(anyCbor, fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.boolean(), (item, extra, cut) => {
        const bytes = writeCbor(item);
        const broken = cut ? bytes.slice(0, -1) : [...bytes, ...extra];
        expect(decodePayload(Uint8Array.from(broken))).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it('sealed with a valid key open to a valid payload or a drop reason, as the spec decides', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          payloadish,
          fc.record({ name: fc.constantFrom(...NAMES), item: fc.oneof({ weight: 9, arbitrary: anyCbor }, deep) }),
        ),
        ({ name, item }) => {
          const datagram = sealRaw(name, Uint8Array.from(writeCbor(item)));
          const result = receive(datagram, directionOf(name));
          if (datagram.length > MAX_TELEGRAM_BYTES) {
            expect(result).toEqual({ ok: false, reason: 'too_long' });
            return;
          }
          const value = specValue(item);
          const isMap =
            value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
          if (value === FORBIDDEN || !isMap) {
            expect(result).toEqual({ ok: false, reason: 'bad_cbor' });
            return;
          }
          const checked = PAYLOAD_SCHEMAS[name].safeParse(value);
          if (!checked.success) expect(result).toEqual({ ok: false, reason: 'bad_payload' });
          else expect(result).toEqual({ ok: true, telegram: { name, payload: checked.data } });
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('hidden under __proto__ do not count as the payload', () => {
    // {"__proto__": {"fw": "1", "hw": "2", "comps": 3}}: a HELLO without fw, hw and comps.
    const item: Cbor = {
      t: 'map',
      entries: [
        [
          { t: 'text', v: '__proto__' },
          {
            t: 'map',
            entries: [
              [
                { t: 'text', v: 'fw' },
                { t: 'text', v: '1' },
              ],
              [
                { t: 'text', v: 'hw' },
                { t: 'text', v: '2' },
              ],
              [
                { t: 'text', v: 'comps' },
                { t: 'uint', v: 3n },
              ],
            ],
          },
        ],
      ],
    };
    expect(receive(sealRaw('HELLO', Uint8Array.from(writeCbor(item))), Direction.DEPOT_TO_SERVER)).toEqual({
      ok: false,
      reason: 'bad_payload',
    });
  });
});

// ─── Anti-replay window ──────────────────────────────────────────────────────────────────────────

/**
 * The spec's window, written the plain way: the highest epoch, the highest seq in it, and the set
 * of seqs seen in it. A telegram is accepted when its epoch is higher, or the epoch is equal and
 * the seq is higher than the highest, or among the 64 telegrams up to the highest and not seen.
 */
class ReferenceWindow {
  epoch = 0;
  highest = 0;
  seen = new Set<number>();

  accept(epoch: number, seq: number): boolean {
    if (epoch > this.epoch) {
      this.epoch = epoch;
      this.highest = seq;
      this.seen = new Set([seq]);
      return true;
    }
    if (epoch < this.epoch) return false;
    if (seq > this.highest) {
      this.highest = seq;
      this.seen.add(seq);
      return true;
    }
    if (this.highest - seq >= 64 || this.seen.has(seq)) return false;
    this.seen.add(seq);
    return true;
  }
}

/** Telegrams as they arrive: mostly in order, some late, some repeated, restarts, jumps, extremes. */
const arrivals = fc.array(
  fc.oneof(
    fc.tuple(fc.nat(3), fc.nat(200)),
    fc.tuple(fc.nat(3), fc.constantFrom(0, 1, 63, 64, 65, 0xffff_fffe, 0xffff_ffff)),
    fc.tuple(fc.constantFrom(0xffff_fffe, 0xffff_ffff), fc.nat({ max: 0xffff_ffff })),
  ),
  { maxLength: 300 },
);

describe('anti-replay window', () => {
  it('decides like the reference model of the spec, for any order of arrival', () => {
    fc.assert(
      fc.property(arrivals, (steps) => {
        const model = new ReferenceWindow();
        let state: ReplayState = emptyReplayState();
        const accepted = new Set<string>();
        for (const [epoch, seq] of steps) {
          const before = { ...state };
          const would = wouldAccept(state, epoch, seq);
          expect(state).toEqual(before);
          const next = accept(state, epoch, seq);
          expect(next !== undefined).toBe(model.accept(epoch, seq));
          expect(would).toBe(next !== undefined);
          if (!next) continue;
          // Never the same (epoch, seq) twice, never back to an older epoch.
          expect(accepted.has(`${epoch}/${seq}`)).toBe(false);
          accepted.add(`${epoch}/${seq}`);
          expect(next.epoch).toBeGreaterThanOrEqual(state.epoch);
          expect(next.bitmap >= 0n && next.bitmap < 1n << 64n).toBe(true);
          state = next;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every replay of an accepted telegram, however much later it comes', () => {
    fc.assert(
      fc.property(arrivals, fc.nat(), (steps, pick) => {
        let state: ReplayState = emptyReplayState();
        const accepted: [number, number][] = [];
        for (const [epoch, seq] of steps) {
          const next = accept(state, epoch, seq);
          if (next) {
            state = next;
            accepted.push([epoch, seq]);
          }
        }
        fc.pre(accepted.length > 0);
        const [epoch, seq] = accepted[pick % accepted.length] ?? [0, 0];
        expect(accept(state, epoch, seq)).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });
});
