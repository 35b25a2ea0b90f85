import { expect } from 'vitest';
import { ApiClient, GOOD_PASSWORD, registerCustomer } from './api.js';
import type { TestServer } from './server.js';
import { linkTokenIn, type TestSmtp } from './smtp.js';

export interface Org {
  id: string;
  name: string;
}

let ipCounter = 10;
/** A fresh client address in TEST-NET-1 for each new customer, so throttles never meet. */
export function nextIp(): string {
  return `192.0.2.${ipCounter++ % 250}`;
}

/** Registers a customer through the real flow, logged in. */
export function customer(server: TestServer, smtp: TestSmtp, email: string): Promise<ApiClient> {
  return registerCustomer(server, smtp, email, nextIp());
}

/**
 * Creates a sub-account as a main account (or operator) and returns its id, read from the members
 * list: the answer itself is the same for every address.
 */
export async function createSubAccount(
  client: ApiClient,
  organizationId: string,
  body: { email: string; name?: string; rights: string[]; redirectToMain?: boolean },
): Promise<string> {
  const created = await client.post(`/api/organizations/${organizationId}/sub-accounts`, body);
  expect(created.body).toEqual({ status: 'invited' });
  const detail = await client.get<{ members: Array<{ id: string; email: string }> }>(
    `/api/organizations/${organizationId}`,
  );
  const member = detail.body.members.find((m) => m.email.toLowerCase() === body.email.toLowerCase());
  if (!member) throw new Error(`no member ${body.email}`);
  return member.id;
}

/** Accepts the invitation mailed to the address itself and returns the new sub-account, logged in. */
export async function acceptInvitation(server: TestServer, smtp: TestSmtp, forEmail: string): Promise<ApiClient> {
  const mail = await smtp.waitFor(forEmail, new RegExp(`Einladung`));
  const client = new ApiClient(server, nextIp());
  const verified = await client.post<{ setupToken: string; purpose: string }>('/api/auth/verify', {
    token: linkTokenIn(mail),
  });
  expect(verified.body.purpose).toBe('invite');
  expect(
    (await client.post('/api/auth/password/setup', { setupToken: verified.body.setupToken, password: GOOD_PASSWORD }))
      .status,
  ).toBe(200);
  expect((await client.login(forEmail, GOOD_PASSWORD)).status).toBe(200);
  return client;
}

/** An organization whose main account is a freshly registered customer, logged in again after promotion. */
export async function makeOrganization(
  server: TestServer,
  smtp: TestSmtp,
  admin: ApiClient,
  name: string,
  mainEmail: string,
): Promise<{ org: Org; main: ApiClient }> {
  const main = await customer(server, smtp, mainEmail);
  const res = await admin.post<Org>('/api/admin/organizations', { name, mainEmail });
  expect(res.status).toBe(200);
  await main.login(mainEmail, GOOD_PASSWORD);
  return { org: res.body, main };
}
