import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as api from '../../../protocol/src/api/index.js';
import * as realtime from '../../../protocol/src/realtime/index.js';
import * as telegram from '../../../protocol/src/telegram/payloads.js';
import { configSchema } from '../../../server/src/config.js';
import { deriveSample, issuePaths, mutations, protocolSchemas, withValueAt } from './schema-samples.js';

/**
 * Every zod schema of the protocol, fed hostile input: what a browser, a script or a depot could
 * send. Schemas are found by walking the folders, so a new one is covered without touching this file.
 */
const SCHEMAS = await protocolSchemas(['api', 'realtime', 'telegram']);

/** Samples the derivation cannot build from the schema's shape (a refinement it cannot see). */
const HAND_WRITTEN: Record<string, unknown> = {
  exportQuerySchema: { format: 'csv', delimiter: ';', lang: 'de', tz: 'Europe/Berlin' },
  // Its range must run forward and span at most 366 days, which a derived sample cannot know.
  fleetHistoryQuerySchema: {
    format: 'csv',
    delimiter: ';',
    lang: 'de',
    tz: 'Europe/Berlin',
    from: '2026-11-01T00:00:00.000Z',
    to: '2026-12-01T00:00:00.000Z',
    kind: 'key_removed',
  },
};

const SAMPLES = new Map<string, unknown>(
  [...SCHEMAS.keys()].map((name) => {
    if (name in HAND_WRITTEN) return [name, HAND_WRITTEN[name]];
    try {
      return [name, deriveSample(SCHEMAS.get(name) as z.ZodType)];
    } catch (error) {
      return [name, error];
    }
  }),
);

const NAMES = [...SCHEMAS.keys()];
const RUNS = 60;

/** Keys that have hurt JavaScript parsers before. */
const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'),
  fc.string({ maxLength: 8 }),
);

const hugeString = fc
  .tuple(fc.integer({ min: 10_000, max: 100_000 }), fc.constantFrom('a', ' ', '0', '@', 'ä', '\u202e', '.'))
  .map(([n, c]) => c.repeat(n));

const hostileLeaf = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    -1,
    2 ** 53,
    1e308,
    '',
    ' ',
    '\u0000',
    '__proto__',
    'constructor',
    true,
    null,
    undefined,
  ),
  fc.double(),
  fc.integer(),
  fc.bigInt(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  hugeString,
  fc.uint8Array({ maxLength: 40 }),
);

const anythingHostile = fc.anything({
  key: hostileKey,
  values: [hostileLeaf],
  maxDepth: 3,
  maxKeys: 6,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withBoxedValues: true,
  withObjectString: true,
});

/** Nesting far deeper than any schema: arrays in arrays, or objects under a hostile key. */
const deeplyNested = fc
  .tuple(fc.integer({ min: 100, max: 2_000 }), hostileKey, fc.boolean())
  .map(([depth, key, asArray]) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = asArray ? [value] : withValueAt({}, [key], value);
    return value;
  });

/** Pollution attempts in the shape JSON.parse gives them: own `__proto__` and `constructor` keys. */
const pollutionAttempt = fc
  .constantFrom(
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"__proto__":{"__proto__":{"polluted":true}}}',
    '{"a":{"__proto__":{"polluted":true}},"__proto__":[{"polluted":true}]}',
  )
  .map((text) => JSON.parse(text) as unknown);

function hostileInput(name: string): fc.Arbitrary<unknown> {
  const sample = SAMPLES.get(name);
  const schema = SCHEMAS.get(name) as z.ZodType;
  const paths = [[], ...mutations(schema, sample).map((m) => m.path)];
  // The valid sample with one field (or a new key) replaced by something hostile reaches the
  // schema's inner checks, where random input stops at the first type check.
  const injected = fc
    .tuple(
      fc.constantFrom(...paths),
      fc.option(hostileKey, { nil: undefined }),
      fc.oneof(hostileLeaf, anythingHostile, pollutionAttempt),
    )
    .map(([at, extraKey, value]) => withValueAt(sample, extraKey === undefined ? at : [...at, extraKey], value));
  return fc.oneof(
    anythingHostile,
    fc.jsonValue(),
    deeplyNested,
    pollutionAttempt,
    fc.integer({ min: 1_000, max: 20_000 }).map((n) => Array.from({ length: n }, () => sample)),
    injected,
  );
}

/**
 * No object in a parse result inherits from data: its prototype is null or a class's own (Object,
 * Array, or whatever a `z.unknown()` field passed through), never an object that came in as input.
 */
function assertNoForeignPrototype(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  const proto: unknown = Object.getPrototypeOf(value);
  const classPrototype =
    proto === null ||
    (typeof proto === 'object' &&
      Object.hasOwn(proto, 'constructor') &&
      (proto as { constructor: unknown }).constructor instanceof Function &&
      (proto as { constructor: { prototype: unknown } }).constructor.prototype === proto);
  expect(classPrototype, 'an object in the output inherits from input data').toBe(true);
  if (value instanceof Uint8Array) return;
  for (const child of Object.values(value)) assertNoForeignPrototype(child, seen);
}

/** The properties that hold for any input: no throw, stable output, errors that name a field. */
function checkHostile(schema: z.ZodType, input: unknown): void {
  const result = schema.safeParse(input);
  if (result.success) {
    const again = schema.safeParse(result.data);
    expect(again.success).toBe(true);
    expect(again.data).toEqual(result.data);
    assertNoForeignPrototype(result.data);
  } else {
    expect(result.error.issues.length).toBeGreaterThan(0);
    for (const issue of result.error.issues) {
      expect(Array.isArray(issue.path)).toBe(true);
      for (const part of issue.path) expect(['string', 'number']).toContain(typeof part);
      expect(issue.message.length).toBeGreaterThan(0);
    }
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
}

afterEach(() => {
  // A polluted prototype would leak into every later test; fail loudly and clean up.
  const polluted = Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted');
  delete (Object.prototype as Record<string, unknown>).polluted;
  expect(polluted).toBe(false);
});

describe('protocol schemas', () => {
  it('are all found: api, realtime and telegram payloads', () => {
    expect(NAMES.length).toBeGreaterThanOrEqual(125);
    for (const name of ['loginRequestSchema', 'docSyncSchema', 'invoiceInputSchema', 'telegram.commandSchema'])
      expect(NAMES).toContain(name);
    for (const mod of [api, realtime, telegram]) {
      for (const [name, value] of Object.entries(mod)) {
        if (value instanceof z.ZodType) expect([...SCHEMAS.values()]).toContain(value);
        else expect(name.endsWith('Schema'), `${name} is named like a schema but is none`).toBe(false);
      }
    }
    expect(Object.keys(HAND_WRITTEN).filter((name) => !SCHEMAS.has(name))).toEqual([]);
  });

  describe.each(NAMES)('%s', (name) => {
    const schema = SCHEMAS.get(name) as z.ZodType;
    const sample = SAMPLES.get(name);

    it('accepts its valid sample (add one to HAND_WRITTEN if it cannot be derived)', () => {
      expect(sample).not.toBeInstanceOf(Error);
      const result = schema.safeParse(sample);
      expect(result.error?.issues ?? []).toEqual([]);
    });

    it('never throws on hostile input, parses its own output to the same value, names fields in errors', () => {
      fc.assert(
        fc.property(hostileInput(name), (input) => checkHostile(schema, input)),
        { numRuns: RUNS },
      );
    });

    it('refuses each single-field mutation its own rules forbid, at that field', () => {
      const cases = mutations(schema, sample);
      expect(cases.length).toBeGreaterThan(0);
      for (const m of cases) {
        const broken = withValueAt(sample, m.path, m.value, m.missing);
        const result = schema.safeParse(broken);
        expect(result.success, `${m.why} at ${m.path.join('.') || '(root)'} was accepted`).toBe(false);
        const paths = issuePaths(result.error?.issues ?? []).map((p) => p.join('.'));
        const at = m.path.join('.');
        expect(
          paths.some((p) => p === at || p.startsWith(`${at}.`) || (at === '' && p !== undefined)),
          `${m.why} at ${at || '(root)'} reported at ${paths.join(', ')}`,
        ).toBe(true);
      }
    });
  });
});

describe('server configuration schema', () => {
  const envValue = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    hugeString,
    fc.constantFrom('', ' ', 'NaN', 'Infinity', '-1', '1e400', '0x10', 'true', 'off', '__proto__', '65536', '3.5'),
  );
  const env = fc.dictionary(fc.oneof(hostileKey, fc.constantFrom(...Object.keys(configSchema.shape))), envValue, {
    maxKeys: 12,
  });

  it('never throws on any environment, and a refusal names the variable', () => {
    fc.assert(
      fc.property(env, (input) => {
        const result = configSchema.safeParse(input);
        if (!result.success) {
          for (const issue of result.error.issues) expect(Object.keys(configSchema.shape)).toContain(issue.path[0]);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a port outside 0..65535 or a fractional one', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 65_536 }),
          fc.integer({ max: -1 }),
          fc.double({ min: 0.01, max: 65_535, noInteger: true }),
        ),
        (port) => {
          expect(configSchema.safeParse({ KIS_HTTP_PORT: String(port) }).success).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});
