import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiClient } from './api.js';

/** A legacy password hash as the old products stored it: SHA-256 over salt and password. */
export function sha256Hash(password: string, salt: string): string {
  return `sha256$${salt}$${createHash('sha256').update(`${salt}${password}`).digest('hex')}`;
}

/**
 * Imports legacy accounts through the operators' import API. `rows` are CSV lines without the
 * header: `username;displayName;company;main;rights;passwordHash;products`.
 */
export async function importLegacy(admin: ApiClient, rows: readonly string[]): Promise<void> {
  const csv = ['username;displayName;company;main;rights;passwordHash;products', ...rows].join('\n');
  const res = await fetch(`${admin.server.url}/api/admin/legacy/import?format=csv&dryRun=false`, {
    method: 'POST',
    headers: {
      'content-type': 'text/csv',
      'x-forwarded-for': admin.ip,
      cookie: admin.cookie ?? '',
      'x-csrf-token': admin.csrfToken ?? '',
    },
    body: `${csv}\n`,
  });
  expect(res.status, await res.clone().text()).toBe(200);
  expect(((await res.json()) as { written: boolean }).written).toBe(true);
}

/** Puts legacy companies (by name) into a new wave and starts it: their main accounts may run the wizard. */
export async function startWave(admin: ApiClient, companies: readonly string[]): Promise<void> {
  const wave = await admin.post<{ id: string }>('/api/admin/migration/waves', { name: `Welle ${companies.join()}` });
  expect(wave.status).toBe(200);
  expect((await admin.post(`/api/admin/migration/waves/${wave.body.id}/companies`, { companies })).status).toBe(200);
  expect((await admin.post(`/api/admin/migration/waves/${wave.body.id}/start`)).status).toBe(200);
}
