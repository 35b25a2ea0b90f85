import { describe, expect, it } from 'vitest';
import { addDays, formatEuro, totals } from '../../../server/src/payments/amounts.js';

describe('invoice sums', () => {
  it('computes VAT once per rate on the rate’s net sum, so the printed lines multiply out', () => {
    // Per line, 3 × 0.33 € at 19 % would round to 3 × 0.06 = 0.18; on the sum it is 0.99 × 19 % = 0.19.
    const sum = totals([
      { quantity: 1000, unitNetCents: 33, vatRate: 19 },
      { quantity: 1000, unitNetCents: 33, vatRate: 19 },
      { quantity: 1000, unitNetCents: 33, vatRate: 19 },
    ]);
    expect(sum).toEqual({
      vat: [{ rate: 19, netCents: 99, vatCents: 19 }],
      netCents: 99,
      vatCents: 19,
      grossCents: 118,
    });
  });

  it('keeps rates apart, highest first, and counts fractional quantities in thousandths', () => {
    const sum = totals([
      { quantity: 500, unitNetCents: 1000, vatRate: 7 },
      { quantity: 2500, unitNetCents: 1999, vatRate: 19 },
      { quantity: 1000, unitNetCents: 1000, vatRate: 0 },
    ]);
    expect(sum.vat).toEqual([
      { rate: 19, netCents: 4998, vatCents: 950 },
      { rate: 7, netCents: 500, vatCents: 35 },
      { rate: 0, netCents: 1000, vatCents: 0 },
    ]);
    expect(sum.grossCents).toBe(4998 + 950 + 500 + 35 + 1000);
  });

  it('writes euros the German way and counts due dates over month ends', () => {
    expect(formatEuro(123456).replace(/\s/g, ' ')).toBe('1.234,56 €');
    expect(addDays('2026-11-25', 14)).toBe('2026-12-09');
    expect(addDays('2026-02-20', 14)).toBe('2026-03-06');
  });
});
