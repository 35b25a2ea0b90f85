import { performance } from 'node:perf_hooks';
import type { PinView } from '@kis/protocol/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, type ApiResponse } from '../helpers/api.js';
import { registerDepot } from '../helpers/depots.js';
import { importLegacy, sha256Hash, startWave } from '../helpers/legacy.js';
import { customer, makeOrganization, nextIp } from '../helpers/organizations.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Security review, issue 20, "enumeration": answers that told whether an address or a user name
 * has an account now answer alike for existing and unknown ones (or only to operators).
 */

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
/** An account that belongs to nobody the attackers below are related to. */
const STRANGER = 'fremd@example.org';

beforeAll(async () => {
  smtp = await startSmtp();
  // Many failed logins below are measurements, not an attack to lock out.
  server = await startServer({ env: { SMTP_URL: smtp.url, KIS_LOGIN_MAX_FAILURES: '1000' } });
  admin = await createFirstAdmin(server);
  await customer(server, smtp, STRANGER);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

/** What a client can compare of two answers: status and body. */
function visible(res: ApiResponse): unknown {
  return { status: res.status, body: res.body };
}

describe('a disabled account', () => {
  it('answers the right password like a wrong one; the audit keeps the reason', async () => {
    const email = 'gesperrt@example.org';
    await customer(server, smtp, email);
    const users = await admin.get<{ items: Array<{ id: string; email: string }> }>(`/api/admin/users?q=${email}`);
    const id = users.body.items.find((u) => u.email === email)?.id;
    expect((await admin.request('PUT', `/api/admin/users/${id}/status`, { status: 'disabled' })).status).toBe(200);

    const right = await new ApiClient(server, nextIp()).login(email, GOOD_PASSWORD);
    const wrong = await new ApiClient(server, nextIp()).login(email, 'ein falsches Passwort 1');
    expect(visible(right)).toEqual(visible(wrong));
    expect(right.status).toBe(401);

    const audit = await admin.get<{ items: Array<{ details: { reason?: string } | null }> }>(
      `/api/admin/audit?action=login.failed&text=${email}`,
    );
    expect(audit.body.items.map((e) => e.details?.reason).sort()).toEqual(['credentials', 'disabled']);
  });
});

describe('the migration wizard of a legacy company', () => {
  let main: ApiClient;
  let ids: Record<string, string>;

  beforeAll(async () => {
    await importLegacy(admin, [
      `e.chef;Emil Chef;Enum GmbH;ja;;${sha256Hash('Chef-Passwort 1', 'c1')};Portal`,
      `e.lager;Ela Lager;Enum GmbH;nein;see_depots;${sha256Hash('Lager-Passwort 1', 'l1')};Portal`,
    ]);
    await startWave(admin, ['enum gmbh']);
    main = new ApiClient(server, nextIp());
    const login = await main.post<{ csrfToken: string }>('/api/auth/legacy-login', {
      username: 'e.chef',
      password: 'Chef-Passwort 1',
    });
    expect(login.status).toBe(200);
    main.csrfToken = login.body.csrfToken;
    const list = await main.get<{ items: Array<{ userId: string; username: string }> }>('/api/legacy/wizard');
    ids = Object.fromEntries(list.body.items.map((a) => [a.username, a.userId]));
  });

  it('checks an address with another account in KIS like an unknown one', async () => {
    const check = (email: string) => main.get(`/api/legacy/email-check?email=${encodeURIComponent(email)}`);
    const unknown = await check('niemand@example.org');
    expect(unknown.body).toEqual({ available: true, reason: null });
    expect(visible(await check(STRANGER))).toEqual(visible(unknown));
    expect(visible(await check('admin@kis.test'))).toEqual(visible(unknown));
  });

  it('confirms such an address like a free one, tells its holder instead, and changes nobody else’s account', async () => {
    const done = await main.post<{ items: Array<{ username: string; state: string; email: string | null }> }>(
      '/api/legacy/wizard',
      {
        accounts: [
          { userId: ids['e.chef'], email: 'chef@enum.example' },
          { userId: ids['e.lager'], email: STRANGER },
        ],
      },
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.items.map(({ username, state, email }) => ({ username, state, email }))).toEqual([
      { username: 'e.chef', state: 'invited', email: 'chef@enum.example' },
      { username: 'e.lager', state: 'invited', email: STRANGER },
    ]);

    // The holder of the address is told, without a link to take anything over.
    const notice = await smtp.waitFor(STRANGER, /bereits vergeben/);
    expect(notice.text).toContain('e.lager');
    expect(notice.text).not.toMatch(/#token=/);
    // The holder's own account is untouched, and the sub-account keeps its user name until settled.
    expect((await new ApiClient(server, nextIp()).login(STRANGER, GOOD_PASSWORD)).status).toBe(200);
    expect(
      (
        await new ApiClient(server, nextIp()).post('/api/auth/legacy-login', {
          username: 'e.lager',
          password: 'Lager-Passwort 1',
        })
      ).status,
    ).toBe(200);
    // An address of the own company is still named: the main account sees its members anyway.
    expect((await main.get('/api/legacy/email-check?email=chef%40enum.example')).body).toEqual({
      available: false,
      reason: 'taken',
    });
  });
});

describe('a PIN for a holder named by address', () => {
  it('gets the same refusal for an address outside the caller’s reach whether or not it has an account', async () => {
    const { org, main } = await makeOrganization(server, smtp, admin, 'Depot AG', 'chef@depot-ag.example');
    const { depot } = await registerDepot(admin, { organizationId: org.id });
    const pin = (holderEmail: string) =>
      main.post<{ pin: PinView }>(`/api/depots/${depot.depotId}/pins`, {
        comp: 1,
        label: 'Schlüssel 1',
        digits: 6,
        holderEmail,
      });

    const stranger = await pin(STRANGER);
    const nobody = await pin('niemand-da@example.org');
    expect(visible(stranger)).toEqual(visible(nobody));
    expect(stranger.status).toBe(400);
    // Someone of the own company is fine.
    expect((await pin('chef@depot-ag.example')).status).toBe(200);
  });
});

describe('the legacy user-name login', () => {
  it('takes as long for an unknown name as for a known account with a salted SHA-256 hash', async () => {
    await importLegacy(admin, [`t.sha;Tim Sha;Zeit KG;ja;;${sha256Hash('Zeit-Passwort 1', 'z9')};Portal`]);
    const attempt = async (username: string): Promise<number> => {
      const started = performance.now();
      const res = await new ApiClient(server, nextIp()).post('/api/auth/legacy-login', {
        username,
        password: 'falsch geraten',
      });
      const took = performance.now() - started;
      expect(res.status).toBe(401);
      return took;
    };
    // Warm-up: the first comparison creates the dummy hash.
    for (let i = 0; i < 3; i++) await Promise.all([attempt(`t.warm${i}`), attempt('t.sha')]);
    const unknown: number[] = [];
    const known: number[] = [];
    for (let i = 0; i < 21; i++) {
      // Interleaved, one at a time, so load on the machine hits both alike.
      unknown.push(await attempt(`t.niemand${i}`));
      known.push(await attempt('t.sha'));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const [u, k] = [median(unknown), median(known)];
    expect(Math.max(u, k) / Math.min(u, k), `median unknown ${u.toFixed(1)} ms, known ${k.toFixed(1)} ms`).toBeLessThan(
      1.5,
    );
  });
});
