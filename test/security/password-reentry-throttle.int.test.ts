import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient, type ApiResponse } from '../helpers/api.js';
import { customer } from '../helpers/organizations.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Security review, issue 20, "password re-entry throttle": a signed-in browser left unattended (or
 * a stolen session) must not guess the account's password faster at the doors that ask for it
 * again — password change, e-mail change, self-erasure — than at the sign-in page.
 */

/** Failed attempts before a lockout, as this server is configured. */
const MAX_FAILURES = 3;
const NEW_PASSWORD = 'Ein ganz neues Passwort 42';

let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({
    env: { SMTP_URL: smtp.url, KIS_LOGIN_MAX_FAILURES: String(MAX_FAILURES), KIS_LOGIN_LOCKOUT_STEP_SECONDS: '600' },
  });
  admin = await createFirstAdmin(server);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

function codeOf(res: ApiResponse): string | undefined {
  return (res.body as { error?: { code?: string } } | null)?.error?.code;
}

/** The doors that ask for the password again, each as a request with a given password. */
const doors: Record<string, (client: ApiClient, password: string) => Promise<ApiResponse>> = {
  'password change': (client, password) =>
    client.post('/api/account/password', { current: password, next: NEW_PASSWORD }),
  'e-mail change': (client, password) =>
    client.post('/api/account/email', { newEmail: 'neue-adresse@example.org', password }),
  'self-erasure': (client, password) => client.post('/api/account/erase', { password }),
};

describe.each(Object.entries(doors))('the %s', (name, send) => {
  it('locks after as many wrong passwords as the login allows, and then refuses the right one too', async () => {
    const email = `reentry-${name.replace(/\W/g, '')}@example.org`;
    const victim = await customer(server, smtp, email);

    const answers: Array<[number, string | undefined]> = [];
    for (let i = 0; i < MAX_FAILURES; i++) {
      const res = await send(victim, `falsches Passwort ${i}`);
      answers.push([res.status, codeOf(res)]);
    }
    expect(answers).toEqual([
      ...Array.from({ length: MAX_FAILURES - 1 }, () => [400, 'current_password_wrong']),
      [429, 'locked'],
    ]);

    const right = await send(victim, GOOD_PASSWORD);
    expect([right.status, codeOf(right)]).toEqual([429, 'locked']);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    // Nothing happened: the session lives on, and after an operator lifts the lockout the old
    // password still signs in.
    expect((await victim.get('/api/account')).status).toBe(200);
    const users = await admin.get<{ items: Array<{ id: string; email: string }> }>(
      `/api/admin/users?q=${encodeURIComponent(email)}`,
    );
    const id = users.body.items.find((u) => u.email === email)?.id;
    expect((await admin.post(`/api/admin/users/${id}/unlock`)).status).toBe(200);
    expect((await victim.login(email, GOOD_PASSWORD)).status).toBe(200);
  });
});

it('compares at most the allowed wrong passwords sent at once, and the right one after them is refused', async () => {
  const victim = await customer(server, smtp, 'reentry-parallel@example.org');
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) => doors['password change']?.(victim, `falsches Passwort ${i}`)),
  );
  const wrong = answers.filter((a) => a && codeOf(a) === 'current_password_wrong').length;
  expect(wrong).toBeLessThanOrEqual(MAX_FAILURES);
  expect(answers.every((a) => a && (codeOf(a) === 'current_password_wrong' || codeOf(a) === 'locked'))).toBe(true);
  const right = await victim.post('/api/account/password', { current: GOOD_PASSWORD, next: NEW_PASSWORD });
  expect([right.status, codeOf(right)]).toEqual([429, 'locked']);
});
