import { describe, expect, it } from 'vitest';
import { parseCents, parseThousandths } from '../../web/src/lib/invoices/money.js';

describe('typed amounts', () => {
  it('reads euros as people type them, with comma or point', () => {
    expect(parseCents('189,00')).toBe(18_900);
    expect(parseCents('189.5')).toBe(18_950);
    expect(parseCents('1.234,56')).toBe(123_456);
    expect(parseCents('1,234.56')).toBe(123_456);
    expect(parseCents(' 12 € ')).toBe(1200);
    expect(parseCents('0,99')).toBe(99);
  });

  it('refuses what is not an amount', () => {
    for (const bad of ['', 'abc', '12,345', '1.234', '1,2,3x', '-5', '.', '12.34.5'])
      expect(parseCents(bad), bad).toBeUndefined();
  });

  it('reads quantities to a thousandth', () => {
    expect(parseThousandths('4,5')).toBe(4500);
    expect(parseThousandths('1')).toBe(1000);
    expect(parseThousandths('0,125')).toBe(125);
  });
});
