import { getContext, setContext } from 'svelte';
import type { PaymentSettings } from '@kis/protocol/api';
import { api } from '$lib/api';

const CONTEXT_KEY = Symbol('billing');

/**
 * Whose invoices the invoice pages show: the caller's company, or for operators the company they
 * chose. Holds that company's settings, so every page knows whether invoices can be issued.
 */
export class Billing {
  /** Operators choose; customers bill for their own company (the server decides). */
  organizationId = $state<string | undefined>(undefined);
  settings = $state<PaymentSettings | undefined>(undefined);

  /** `organizationId=…` for the API when an operator chose a company, else empty. */
  get query(): string {
    return this.organizationId ? `organizationId=${encodeURIComponent(this.organizationId)}` : '';
  }

  /** `path` with the company query appended. */
  path(path: string): string {
    if (!this.query) return path;
    return `${path}${path.includes('?') ? '&' : '?'}${this.query}`;
  }

  async loadSettings(): Promise<void> {
    this.settings = await api<PaymentSettings>('GET', this.path('/api/payments/settings'));
  }
}

export function setBilling(billing: Billing): Billing {
  return setContext(CONTEXT_KEY, billing);
}

export function getBilling(): Billing {
  return getContext<Billing>(CONTEXT_KEY);
}
