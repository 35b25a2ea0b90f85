/**
 * Helpers for the schema property tests: finding every zod schema the protocol exports, deriving
 * one valid sample per schema from its declared shape and bounds, and listing the single-field
 * mutations that the schema itself says must be refused.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { z } from 'zod';

const PROTOCOL_SRC = fileURLToPath(new URL('../../../protocol/src/', import.meta.url));

/**
 * Every export that is a zod schema, from every module of the named protocol folders, by export
 * name (prefixed with the folder when it is not `api` or `realtime`). A module added later is
 * picked up because the folder is listed, not the files.
 */
export async function protocolSchemas(folders: readonly string[]): Promise<Map<string, z.ZodType>> {
  const found = new Map<string, z.ZodType>();
  for (const folder of folders) {
    const dir = path.join(PROTOCOL_SRC, folder);
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .sort()) {
      const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod)) {
        if (!(value instanceof z.ZodType)) continue;
        const key = folder === 'api' || folder === 'realtime' ? name : `${folder}.${name}`;
        const earlier = found.get(key);
        if (earlier && earlier !== value) throw new Error(`two different schemas are exported as ${key}`);
        found.set(key, value);
      }
    }
  }
  return found;
}

/** What zod's checks record about a schema (lengths, ranges, formats, patterns). */
interface Bag {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  format?: string;
  patterns?: Set<RegExp>;
}

/** The parts of zod v4's internals the walkers below read. */
interface Internals {
  _zod: {
    def: {
      type: string;
      coerce?: boolean;
      format?: string;
      checks?: { _zod: { def: CheckDef } }[];
    };
  };
}

interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  length?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
}

function typeOf(schema: z.ZodType): string {
  return (schema as unknown as Internals)._zod.def.type;
}

/** The bounds, format and patterns a schema's checks declare. */
function bagOf(schema: z.ZodType): Bag {
  const def = (schema as unknown as Internals)._zod.def;
  const bag: Bag = {};
  if (def.format) bag.format = def.format;
  const tighten = (key: 'minimum' | 'maximum', v: number) => {
    const old = bag[key];
    bag[key] = old === undefined ? v : key === 'minimum' ? Math.max(old, v) : Math.min(old, v);
  };
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'min_length' && c.minimum !== undefined) tighten('minimum', c.minimum);
    if (c.check === 'max_length' && c.maximum !== undefined) tighten('maximum', c.maximum);
    if (c.check === 'length_equals' && c.length !== undefined) {
      tighten('minimum', c.length);
      tighten('maximum', c.length);
    }
    if (c.check === 'greater_than' && c.value !== undefined) {
      if (c.inclusive) tighten('minimum', c.value);
      else bag.exclusiveMinimum = c.value;
    }
    if (c.check === 'less_than' && c.value !== undefined) {
      if (c.inclusive) tighten('maximum', c.value);
      else bag.exclusiveMaximum = c.value;
    }
    if (c.check === 'number_format' && c.format === 'safeint') {
      bag.format = 'safeint';
      tighten('minimum', Number.MIN_SAFE_INTEGER);
      tighten('maximum', Number.MAX_SAFE_INTEGER);
    }
    if (c.check === 'string_format' && c.format === 'regex' && c.pattern) {
      bag.patterns = new Set([...(bag.patterns ?? []), c.pattern]);
    }
  }
  return bag;
}

function isCoerced(schema: z.ZodType): boolean {
  return (schema as unknown as Internals)._zod.def.coerce === true;
}

/** The schema inside optional, nullable, default, readonly and catch wrappers. */
function unwrapped(schema: z.ZodType): z.ZodType {
  const t = typeOf(schema);
  if (t === 'optional' || t === 'nullable' || t === 'default' || t === 'prefault' || t === 'readonly') {
    return unwrapped((schema as unknown as { unwrap(): z.ZodType }).unwrap());
  }
  return schema;
}

/** For a pipe: the side that holds the constraints (a transform says nothing about its input). */
function pipeSides(schema: z.ZodType): { in: z.ZodType; out: z.ZodType } {
  const pipe = schema as unknown as { in: z.ZodType; out: z.ZodType };
  return { in: pipe.in, out: pipe.out };
}

function sampleString(bag: Bag): string {
  switch (bag.format) {
    case 'email':
      return 'ada@example.com';
    case 'datetime':
      return '2026-01-01T10:00:00Z';
    case 'date':
      return '2026-01-01';
    case 'url':
      return 'https://example.com/';
  }
  const pattern = bag.patterns ? [...bag.patterns][0] : undefined;
  if (pattern) return fc.sample(fc.stringMatching(pattern), { numRuns: 1, seed: 1 })[0] ?? '';
  return 'x'.repeat(Math.max(1, bag.minimum ?? 0));
}

function sampleNumber(bag: Bag): number {
  let v = 1;
  if (bag.minimum !== undefined && v < bag.minimum) v = bag.minimum;
  if (bag.maximum !== undefined && v > bag.maximum) v = bag.maximum;
  return v;
}

/**
 * One value the schema's declared shape allows, with every optional field present (so mutations
 * reach them too). Throws for a shape it cannot build: the caller then needs a hand-written sample.
 */
export function deriveSample(schema: z.ZodType): unknown {
  const t = typeOf(schema);
  switch (t) {
    case 'object':
      return Object.fromEntries(
        Object.entries((schema as z.ZodObject).shape).map(([k, v]) => [k, deriveSample(v as z.ZodType)]),
      );
    case 'array': {
      const bag = bagOf(schema);
      const n = Math.min(Math.max(1, bag.minimum ?? 0), bag.maximum ?? 1);
      return Array.from({ length: n }, () => deriveSample((schema as z.ZodArray<z.ZodType>).element));
    }
    case 'string':
      return sampleString(bagOf(schema));
    case 'number':
      return sampleNumber(bagOf(schema));
    case 'boolean':
      return true;
    case 'enum':
      return (schema as z.ZodEnum).options[0];
    case 'literal':
      return [...(schema as z.ZodLiteral).values][0];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      return deriveSample(unwrapped(schema));
    case 'pipe': {
      const sides = pipeSides(schema);
      return typeOf(sides.out) === 'transform' ? deriveSample(sides.in) : deriveSample(sides.out);
    }
    case 'union':
      return deriveSample((schema as z.ZodUnion).options[0] as z.ZodType);
    case 'record':
      return {};
    case 'unknown':
    case 'any':
      return null;
    case 'custom':
      // Every custom schema in the protocol is `instanceof Uint8Array`, refined by length.
      return new Uint8Array(32).fill(7);
    default:
      throw new Error(`cannot derive a sample for a ${t} schema`);
  }
}

/** One way to break a valid sample: the value at `path` replaced (or removed, for `missing`). */
export interface Mutation {
  path: (string | number)[];
  value: unknown;
  missing?: boolean;
  why: string;
}

function overLongString(bag: Bag, max: number): string {
  if (bag.format === 'email') return `${'a'.repeat(Math.max(1, max + 1 - '@example.com'.length))}@example.com`;
  return 'x'.repeat(max + 1);
}

/**
 * The mutations the schema itself declares to be errors: a wrong type in every field, a missing
 * required field, a string over its maximum or under its minimum, a number outside its range or a
 * fraction where an integer belongs, a list too long or too short.
 */
export function mutations(schema: z.ZodType, sample: unknown, at: (string | number)[] = []): Mutation[] {
  const out: Mutation[] = [];
  const inner = unwrapped(schema);
  const t = typeOf(inner);
  const add = (value: unknown, why: string) => out.push({ path: at, value, why });
  switch (t) {
    case 'object': {
      if (at.length > 0) add('not an object', 'a text where an object belongs');
      const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
      const value = (sample ?? {}) as Record<string, unknown>;
      for (const [key, field] of Object.entries(shape)) {
        const ft = typeOf(field);
        const acceptsUndefined = ft === 'optional' || ft === 'default' || ft === 'unknown' || ft === 'any';
        if (!acceptsUndefined)
          out.push({ path: [...at, key], value: undefined, missing: true, why: 'a required field left out' });
        out.push(...mutations(field, value[key], [...at, key]));
      }
      break;
    }
    case 'array': {
      const element = (inner as z.ZodArray<z.ZodType>).element;
      const bag = bagOf(inner);
      const items = Array.isArray(sample) ? sample : [];
      add('not a list', 'a text where a list belongs');
      if (bag.maximum !== undefined) {
        add(
          Array.from({ length: bag.maximum + 1 }, () => items[0] ?? deriveSample(element)),
          `more than ${bag.maximum} items`,
        );
      }
      if (bag.minimum !== undefined && bag.minimum > 0)
        add(items.slice(0, bag.minimum - 1), `fewer than ${bag.minimum} items`);
      if (items.length > 0) out.push(...mutations(element, items[0], [...at, 0]));
      break;
    }
    case 'string': {
      const bag = bagOf(inner);
      add(12345, 'a number where a text belongs');
      if (bag.maximum !== undefined) add(overLongString(bag, bag.maximum), `a text over ${bag.maximum} characters`);
      if (bag.minimum !== undefined && bag.minimum > 0)
        add('x'.repeat(bag.minimum - 1), `a text under ${bag.minimum} characters`);
      break;
    }
    case 'number': {
      const bag = bagOf(inner);
      add(isCoerced(inner) ? 'twelve' : '12', 'a text where a number belongs');
      add(Number.NaN, 'NaN');
      add(Number.POSITIVE_INFINITY, 'Infinity');
      if (bag.format === 'safeint' || bag.format === 'int32' || bag.format === 'uint32')
        add(sampleNumber(bag) + 0.5, 'a fraction where a whole number belongs');
      if (bag.minimum !== undefined && Number.isFinite(bag.minimum)) add(bag.minimum - 1, `below ${bag.minimum}`);
      if (bag.maximum !== undefined && Number.isFinite(bag.maximum)) add(bag.maximum + 1, `above ${bag.maximum}`);
      if (bag.exclusiveMinimum !== undefined) add(bag.exclusiveMinimum, `not above ${bag.exclusiveMinimum}`);
      if (bag.exclusiveMaximum !== undefined) add(bag.exclusiveMaximum, `not below ${bag.exclusiveMaximum}`);
      break;
    }
    case 'boolean':
      add('true', 'a text where true/false belongs');
      break;
    case 'enum':
    case 'literal':
      add('no-such-option', 'a value outside the allowed set');
      add(7.5, 'a number outside the allowed set');
      break;
    case 'pipe': {
      const sides = pipeSides(inner);
      if (typeOf(sides.out) === 'transform') out.push(...mutations(sides.in, sample, at));
      else {
        // Type errors are the input side's, bounds the output side's.
        add(12345, 'a number where a text belongs');
        const bag = bagOf(sides.out);
        if (bag.maximum !== undefined) add(overLongString(bag, bag.maximum), `a text over ${bag.maximum} characters`);
      }
      break;
    }
    case 'union': {
      const options = (inner as z.ZodUnion).options as z.ZodType[];
      add({ unexpected: true }, 'an object that fits no alternative');
      const first = options[0];
      if (first && typeOf(unwrapped(first)) === 'object') {
        // The sample was built from the first alternative; break it field by field.
        out.push(...mutations(first, sample, at).filter((m) => m.path.length > at.length));
      }
      break;
    }
    case 'record':
      add('not a record', 'a text where a map belongs');
      break;
    case 'custom':
      add([1, 2, 3], 'a plain list where bytes belong');
      break;
  }
  return out;
}

/** Sets (or removes) the value at a path in a deep copy, as JSON.parse would: own properties only. */
export function withValueAt(
  sample: unknown,
  at: readonly (string | number)[],
  value: unknown,
  remove = false,
): unknown {
  if (at.length === 0) return value;
  const [head, ...rest] = at as [string | number, ...(string | number)[]];
  // A key that is no index (say `length`) turns an array into an object with those keys: JSON
  // cannot give an array other keys, and an array's `length` cannot be redefined.
  const asArray = Array.isArray(sample) && (typeof head === 'number' || /^\d+$/.test(head));
  const copy = (asArray ? [...(sample as unknown[])] : { ...(sample as object) }) as Record<string | number, unknown>;
  if (remove && rest.length === 0) {
    Reflect.deleteProperty(copy, head);
    return copy;
  }
  const child = withValueAt(copy[head], rest, value, remove);
  Object.defineProperty(copy, head, { value: child, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** The paths of every issue, including those inside a union's per-alternative errors. */
export function issuePaths(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): PropertyKey[][] {
  const paths: PropertyKey[][] = [];
  for (const issue of issues) {
    const here = [...prefix, ...issue.path];
    paths.push(here);
    if (issue.code === 'invalid_union') for (const errs of issue.errors) paths.push(...issuePaths(errs, here));
  }
  return paths;
}
