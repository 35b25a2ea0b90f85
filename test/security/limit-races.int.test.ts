import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, registerCustomer, type ApiResponse } from '../helpers/api.js';
import { importLegacy, sha256Hash } from '../helpers/legacy.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Security review, issue 20, "races on limits": an attacker who sends many guesses at once must not
 * get more of them compared than one after the other. Every request comes from its own client
 * address (a botnet), so only the limit under test stands in the way.
 */

/** Wrong codes a verification takes before it is dead (the server's MAX_CODE_ATTEMPTS). */
const MAX_CODE_ATTEMPTS = 5;
/** Failed logins per account or client address before a lockout, as this server is configured. */
const MAX_FAILURES = 5;

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({
    env: {
      SMTP_URL: smtp.url,
      KIS_LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      KIS_LOGIN_LOCKOUT_STEP_SECONDS: '600',
      KIS_LOGIN_LOCKOUT_MAX_SECONDS: '900',
    },
  });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

let botnet = 0;
/** A client address nobody else uses (198.18.0.0/15, benchmarking addresses). */
function botAddress(): string {
  botnet += 1;
  return `198.18.${Math.floor(botnet / 250)}.${(botnet % 250) + 1}`;
}

function codeOf(res: ApiResponse): string | undefined {
  return (res.body as { error?: { code?: string } } | null)?.error?.code;
}

/** How many answers carried each error code (`ok` for a success). */
function tally(answers: readonly ApiResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = a.status === 200 ? 'ok' : `${a.status} ${codeOf(a) ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Audit entries of an action that name an address (the admin's audit page, as an operator reads it). */
async function auditCount(action: string, text: string): Promise<number> {
  const res = await admin.get<{ total: number }>(
    `/api/admin/audit?action=${encodeURIComponent(action)}&text=${encodeURIComponent(text)}&pageSize=1`,
  );
  expect(res.status).toBe(200);
  return res.body.total;
}

/** `count` guesses sent at once; `right` is sent at the given positions, a wrong one everywhere else. */
function storm<T>(count: number, rightAt: readonly number[], send: (right: boolean, i: number) => Promise<T>) {
  return Promise.all(Array.from({ length: count }, (_, i) => send(rightAt.includes(i), i)));
}

describe('verification codes under parallel guessing', () => {
  it('compares at most MAX_CODE_ATTEMPTS of 200 codes sent at once; the right code among them gets nowhere', async () => {
    const email = 'storm-code@example.org';
    await new ApiClient(server, botAddress()).post('/api/auth/register', { email });
    const code = codeIn(await smtp.waitFor(email, /Bestätigungscode/));
    const wrong = (i: number): string => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0');

    // The right code travels late in the storm, as a guess that happens to be right would.
    const answers = await storm(200, [100, 150, 199], (right, i) =>
      new ApiClient(server, botAddress()).post('/api/auth/verify', {
        purpose: 'register',
        email,
        code: right ? code : wrong(i),
      }),
    );
    const counts = tally(answers);
    expect(counts.ok ?? 0, JSON.stringify(counts)).toBe(0);
    // "Wrong code, try again" at most as often as attempts are allowed; everything else is refused.
    expect(counts['400 code_invalid'] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(MAX_CODE_ATTEMPTS);
    expect(answers.every((a) => a.status === 400 || a.status === 429)).toBe(true);

    // The verification is used up: even the right code no longer works.
    const after = await new ApiClient(server, botAddress()).post('/api/auth/verify', {
      purpose: 'register',
      email,
      code,
    });
    expect(after.status).toBe(400);
  });
});

describe('logins under parallel guessing', () => {
  it('evaluates only the policy’s failures for one account; the rest and the right password are refused', async () => {
    const email = 'storm-login@example.org';
    await registerCustomer(server, smtp, email, botAddress());

    const answers = await storm(60, [30, 45, 59], (right, i) =>
      new ApiClient(server, botAddress()).login(email, right ? GOOD_PASSWORD : `falsches Passwort Nummer ${i}`),
    );
    const counts = tally(answers);
    expect(counts.ok ?? 0, JSON.stringify(counts)).toBe(0);
    expect(counts['401 invalid_credentials'] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(MAX_FAILURES);
    expect(answers.every((a) => a.status === 401 || (a.status === 429 && codeOf(a) === 'locked'))).toBe(true);
    // What an operator sees: as many compared (failed) logins as the policy allows, not 60.
    expect(await auditCount('login.failed', email)).toBeLessThanOrEqual(MAX_FAILURES);

    // Afterwards the account is locked for everybody, the owner included.
    const owner = await new ApiClient(server, botAddress()).login(email, GOOD_PASSWORD);
    expect([owner.status, codeOf(owner)]).toEqual([429, 'locked']);
  });

  it('evaluates only the policy’s failures for one client address trying many accounts at once', async () => {
    const email = 'storm-ip@example.org';
    await registerCustomer(server, smtp, email, botAddress());
    const sprayer = botAddress();

    const answers = await storm(60, [40, 59], (right, i) =>
      new ApiClient(server, sprayer).login(
        right ? email : `opfer${i}@spray.example`,
        right ? GOOD_PASSWORD : 'Sommer2024 passwort',
      ),
    );
    const counts = tally(answers);
    expect(counts.ok ?? 0, JSON.stringify(counts)).toBe(0);
    expect(counts['401 invalid_credentials'] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(MAX_FAILURES);
    expect(await auditCount('login.failed', '@spray.example')).toBeLessThanOrEqual(MAX_FAILURES);
    expect((await new ApiClient(server, sprayer).login(email, GOOD_PASSWORD)).status).toBe(429);
  });

  it('evaluates only the policy’s failures of a legacy user-name login at once', async () => {
    await importLegacy(admin, [`s.sturm;Sam Sturm;Sturm GmbH;ja;;${sha256Hash('Sturm-Passwort 1', 'ab')};Portal`]);
    const answers = await storm(60, [30, 45, 59], (right, i) =>
      new ApiClient(server, botAddress()).post('/api/auth/legacy-login', {
        username: 's.sturm',
        password: right ? 'Sturm-Passwort 1' : `falsch ${i}`,
      }),
    );
    const counts = tally(answers);
    expect(counts.ok ?? 0, JSON.stringify(counts)).toBe(0);
    expect(counts['401 invalid_credentials'] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(MAX_FAILURES);
    expect(await auditCount('legacy_login.failed', 's.sturm')).toBeLessThanOrEqual(MAX_FAILURES);
    const owner = await new ApiClient(server, botAddress()).post('/api/auth/legacy-login', {
      username: 's.sturm',
      password: 'Sturm-Passwort 1',
    });
    expect([owner.status, codeOf(owner)]).toEqual([429, 'locked']);
  });
});
