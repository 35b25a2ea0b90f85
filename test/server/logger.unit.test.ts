import { describe, expect, it } from 'vitest';
import { maskPath } from '../../server/src/logger.js';

describe('request paths in the log', () => {
  it('hides the capability in payment links and webhook addresses, and nothing else', () => {
    expect(maskPath('/api/pay/Oe8ml6174YzaJNwmeofgxaVKil6RveqH/capture')).toBe('/api/pay/[redacted]/capture');
    expect(maskPath('/bezahlen/Oe8ml6174YzaJNwmeofgxaVKil6RveqH')).toBe('/bezahlen/[redacted]');
    expect(maskPath('/api/payments/webhook/abcdefghijklmnopqrstuvwx')).toBe('/api/payments/webhook/[redacted]');
    expect(maskPath('/api/invoices/6b066a93e7436e46f0a5542d')).toBe('/api/invoices/6b066a93e7436e46f0a5542d');
  });
});
