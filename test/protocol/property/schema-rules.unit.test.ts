import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  depotCreateSchema,
  documentCreateSchema,
  emailConfirmSchema,
  exportQuerySchema,
  fileNameSchema,
  hasUnsafeFileNameChars,
  invoiceInputSchema,
  invoiceItemSchema,
  loginRequestSchema,
  organizationCreateSchema,
  pageQuerySchema,
  paymentSettingsUpdateSchema,
  pinCreateSchema,
  profileUpdateSchema,
  registerRequestSchema,
  customerInputSchema,
  erasureCreateSchema,
} from '../../../protocol/src/api/index.js';
import { depotsWatchSchema, docSyncSchema } from '../../../protocol/src/realtime/index.js';
import { commandSchema } from '../../../protocol/src/telegram/payloads.js';

/** What users and depots notice about the rules of the protocol's schemas, tried with generated values. */
const RUNS = 200;

function accepts(schema: z.ZodType, value: unknown): boolean {
  return schema.safeParse(value).success;
}

/** A text without any white space, so trimming cannot bring it under a limit. */
const word = (minLength: number, maxLength: number) =>
  fc.string({ unit: 'grapheme', minLength, maxLength }).filter((s) => s.trim() === s && !/\s/u.test(s));

const noAt = fc.string({ maxLength: 60 }).filter((s) => !s.includes('@'));

describe('names and titles', () => {
  it('refuses a depot name over 100 characters and accepts any up to 100, trimmed', () => {
    fc.assert(
      fc.property(word(101, 300), (name) => {
        expect(accepts(depotCreateSchema, { name, compartments: 4 })).toBe(false);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(
        word(1, 100).filter((s) => s.length <= 100),
        fc.constantFrom('', ' ', '\t', '  \n'),
        (name, pad) => {
          const parsed = depotCreateSchema.parse({ name: `${pad}${name}${pad}`, compartments: 4 });
          expect(parsed.name).toBe(name);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses a name or title of nothing but white space', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\s{0,20}$/), (blank) => {
        expect(accepts(depotCreateSchema, { name: blank, compartments: 4 })).toBe(false);
        expect(accepts(documentCreateSchema, { title: blank })).toBe(false);
        expect(accepts(organizationCreateSchema, { name: blank, mainEmail: 'a@example.com' })).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses an organization name or document title over 200 characters', () => {
    fc.assert(
      fc.property(word(201, 400), (long) => {
        expect(accepts(organizationCreateSchema, { name: long, mainEmail: 'a@example.com' })).toBe(false);
        expect(accepts(documentCreateSchema, { title: long })).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('addresses, codes and passwords', () => {
  it('refuses an e-mail address without @ wherever an address is asked for', () => {
    fc.assert(
      fc.property(noAt, (email) => {
        expect(accepts(registerRequestSchema, { email })).toBe(false);
        expect(accepts(organizationCreateSchema, { name: 'ACME', mainEmail: email })).toBe(false);
        expect(accepts(customerInputSchema, { name: 'Ada', email })).toBe(false);
        expect(accepts(erasureCreateSchema, { emails: [email] })).toBe(false);
        expect(accepts(pinCreateSchema, { comp: 1, label: 'Ada', holderEmail: email })).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('stores a customer address and an erasure address trimmed and in lower case', () => {
    fc.assert(
      fc.property(fc.constantFrom('Ada@Example.COM', ' ada@example.com ', 'ADA@EXAMPLE.COM\t'), (email) => {
        expect(customerInputSchema.parse({ name: 'Ada', email }).email).toBe('ada@example.com');
        expect(erasureCreateSchema.parse({ emails: [email] }).emails).toEqual(['ada@example.com']);
      }),
    );
  });

  it('accepts exactly six digits as a confirmation code', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (code) => {
        expect(accepts(emailConfirmSchema, { code })).toBe(/^\d{6}$/.test(code));
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^\d{6}$/), (code) => {
        expect(accepts(emailConfirmSchema, { code })).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses an empty password and one over 1024 characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(''), fc.string({ minLength: 1025, maxLength: 3000 })), (password) => {
        expect(accepts(loginRequestSchema, { email: 'a@example.com', password })).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses a phone number with letters in it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (phone) => {
        expect(accepts(profileUpdateSchema, { phone })).toBe(/^[+0-9 ()/-]*$/.test(phone));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('depots, PINs and documents', () => {
  it('refuses a compartment outside 1..255 or a fractional one', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 256 }), fc.double({ min: 1, max: 255, noInteger: true })),
        (comp) => {
          expect(accepts(pinCreateSchema, { comp, label: 'Ada' })).toBe(false);
          expect(accepts(commandSchema, { cmd: 1, op: 'open', comp })).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('makes PINs of 4 to 10 digits only, and sends a depot nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 20 }), (digits) => {
        expect(accepts(pinCreateSchema, { comp: 1, label: 'Ada', digits })).toBe(digits >= 4 && digits <= 10);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 14 }), (pin) => {
        const op = { cmd: 1, op: 'set_pin', comp: 1, pin, pinId: 'p-1' };
        expect(accepts(commandSchema, op)).toBe(/^\d{4,10}$/.test(pin));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses a rekey whose key is not exactly 32 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (key) => {
        expect(accepts(commandSchema, { cmd: 1, op: 'rekey', keyId: 2, key })).toBe(key.length === 32);
      }),
      { numRuns: RUNS },
    );
  });

  it('watches only depot ids of 16 lower-case hex digits', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (id) => {
        expect(accepts(depotsWatchSchema, { depotIds: [id] })).toBe(/^[0-9a-f]{16}$/.test(id));
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses an empty Yjs message and one over 2 MiB', () => {
    const docId = 'a'.repeat(24);
    expect(accepts(docSyncSchema, { docId, message: new Uint8Array(0) })).toBe(false);
    expect(accepts(docSyncSchema, { docId, message: new Uint8Array(2 * 1024 * 1024 + 1) })).toBe(false);
    expect(accepts(docSyncSchema, { docId, message: new Uint8Array(2 * 1024 * 1024) })).toBe(true);
    expect(accepts(docSyncSchema, { docId, message: [1, 2, 3] })).toBe(false);
  });
});

describe('file names', () => {
  it('refuses path separators, control characters and direction overrides anywhere in a name', () => {
    const bad = fc.constantFrom('/', '\\', '\u0000', '\n', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066');
    fc.assert(
      fc.property(word(0, 20), bad, word(0, 20), (before, ch, after) => {
        expect(accepts(fileNameSchema, `${before}${ch}${after}`)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses `.`, `..` and blank names', () => {
    for (const name of ['.', '..', ' . ', ' .. ', '   ', '']) expect(accepts(fileNameSchema, name)).toBe(false);
  });

  it('refuses a name over 255 UTF-8 bytes, as the server will', () => {
    fc.assert(
      fc.property(
        word(1, 255).filter((n) => !hasUnsafeFileNameChars(n)),
        (name) => {
          const bytes = new TextEncoder().encode(name).length;
          expect(accepts(fileNameSchema, name)).toBe(bytes <= 255 && name !== '.' && name !== '..');
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('money and paging', () => {
  const item = { description: 'Schlüsselübergabe', quantity: 1000, unitNetCents: 1500, vatRate: 19 };

  it('refuses negative or fractional cents and VAT rates other than 19, 7 and 0', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0, max: 1e6, noInteger: true })), (cents) => {
        expect(accepts(invoiceItemSchema, { ...item, unitNetCents: cents })).toBe(false);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.integer({ min: -100, max: 100 }), (vatRate) => {
        expect(accepts(invoiceItemSchema, { ...item, vatRate })).toBe([19, 7, 0].includes(vatRate));
      }),
      { numRuns: RUNS },
    );
  });

  it('takes 1 to 50 items per invoice', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), (n) => {
        const input = { customerId: 'c1', items: Array.from({ length: n }, () => item) };
        expect(accepts(invoiceInputSchema, input)).toBe(n >= 1 && n <= 50);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses payment settings that name neither tax number nor VAT id, at the tax number', () => {
    const issuer = { name: 'ACME', street: 'Hauptstr. 1', postalCode: '10115', city: 'Berlin' };
    const result = paymentSettingsUpdateSchema.safeParse({ issuer, paypal: null });
    expect(result.error?.issues.map((i) => i.path)).toEqual([['issuer', 'taxNumber']]);
    expect(accepts(paymentSettingsUpdateSchema, { issuer: { ...issuer, vatId: 'DE123456789' }, paypal: null })).toBe(
      true,
    );
  });

  it('reads page numbers from query strings and refuses pages out of range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 200_000 }), fc.integer({ min: -10, max: 300 }), (page, pageSize) => {
        const result = pageQuerySchema.safeParse({ page: String(page), pageSize: String(pageSize) });
        const valid = page >= 1 && page <= 100_000 && pageSize >= 1 && pageSize <= 100;
        expect(result.success).toBe(valid);
        if (result.success) expect(result.data).toEqual({ page, pageSize });
      }),
      { numRuns: RUNS },
    );
  });

  it('exports only in a real IANA time zone', () => {
    fc.assert(
      fc.property(fc.constantFrom('Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Tokyo'), (tz) => {
        expect(accepts(exportQuerySchema, { format: 'csv', tz })).toBe(true);
      }),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/^[A-Za-z_/+\-0-9]+$/.test(s)),
        (tz) => {
          expect(accepts(exportQuerySchema, { format: 'csv', tz })).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});
