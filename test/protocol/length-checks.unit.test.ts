import { describe, expect, it } from 'vitest';
import { adminSetupRequestSchema, invoiceInputSchema } from '../../protocol/src/api/index.js';
import { depotsWatchSchema } from '../../protocol/src/realtime/index.js';

/** An object that poses as a string or array: its `length` cannot become a number. */
const posing = (): unknown => ({ 0: 'x', length: Object.create(null) as object });

describe('length bounds of the protocol schemas', () => {
  it('answer an object posing as a string or an array with an issue, never a throw', () => {
    const setup = adminSetupRequestSchema.safeParse({
      token: 'x'.repeat(20),
      email: 'ada@example.com',
      name: 'x',
      password: posing(),
    });
    expect(setup.success).toBe(false);
    expect(setup.error?.issues.map((i) => i.path)).toEqual([['password']]);
    expect(invoiceInputSchema.safeParse({ customerId: 'c', items: posing() }).success).toBe(false);
    expect(depotsWatchSchema.safeParse({ depotIds: posing() }).success).toBe(false);
  });

  it('still bound real strings and arrays', () => {
    const setup = { token: 'x'.repeat(20), email: 'ada@example.com', name: 'x' };
    expect(adminSetupRequestSchema.safeParse({ ...setup, password: '' }).success).toBe(false);
    expect(adminSetupRequestSchema.safeParse({ ...setup, password: 'x'.repeat(1025) }).success).toBe(false);
    expect(adminSetupRequestSchema.safeParse({ ...setup, password: 'geheim' }).success).toBe(true);
    expect(depotsWatchSchema.safeParse({ depotIds: Array.from({ length: 1001 }, () => '0'.repeat(16)) }).success).toBe(
      false,
    );
  });
});
