import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { codeIn, linkTokenIn, startSmtp, type TestSmtp } from '../../helpers/smtp.js';

let server: TestServer;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  await createFirstAdmin(server, 'admin@kis.test');
});
afterAll(async () => {
  await server.stop();
  await smtp.close();
});

describe('registration', () => {
  it('takes a visitor from the first mail to the first login, and tells the admins', async () => {
    const visitor = new ApiClient(server);
    const start = await visitor.post('/api/auth/register', { email: 'Erika.Muster@Firma.example', language: 'de' });
    expect(start.status).toBe(202);

    const mail = await smtp.waitFor('erika.muster@firma.example', /Bestätigungscode/);
    expect(mail.text).not.toMatch(/passwort:/i);
    const verified = await visitor.post<{ setupToken: string; email: string }>('/api/auth/verify', {
      purpose: 'register',
      email: 'erika.muster@firma.example',
      code: codeIn(mail),
    });
    expect(verified.status).toBe(200);
    expect(verified.body.email).toBe('Erika.Muster@Firma.example');

    // A weak password is refused and the verification survives it.
    const weak = await visitor.post('/api/auth/password/setup', {
      setupToken: verified.body.setupToken,
      password: 'qwerty123456',
    });
    expect(weak.status).toBe(400);
    expect(weak.body).toMatchObject({ error: { code: 'password_common' } });
    const short = await visitor.post('/api/auth/password/setup', {
      setupToken: verified.body.setupToken,
      password: 'kurz',
    });
    expect(short.body).toMatchObject({ error: { code: 'password_too_short' } });

    const set = await visitor.post('/api/auth/password/setup', {
      setupToken: verified.body.setupToken,
      password: GOOD_PASSWORD,
      name: 'Erika Muster',
    });
    expect(set.status).toBe(200);
    // Signed in at once, with a session like a login's: no second login.
    expect(set.body).toMatchObject({
      email: 'Erika.Muster@Firma.example',
      session: { user: { email: 'Erika.Muster@Firma.example', name: 'Erika Muster', role: 'customer' } },
    });
    expect((await visitor.get<{ status: string }>('/api/account')).body).toMatchObject({ status: 'active' });
    // Single use.
    const again = await visitor.post('/api/auth/password/setup', {
      setupToken: verified.body.setupToken,
      password: GOOD_PASSWORD,
    });
    expect(again.body).toMatchObject({ error: { code: 'setup_invalid' } });

    const adminMail = await smtp.waitFor('admin@kis.test', /Neue Registrierung/);
    expect(adminMail.text).toContain('Erika.Muster@Firma.example');

    // The address is compared case-insensitively and stored as typed.
    const login = await visitor.login('ERIKA.MUSTER@firma.example', GOOD_PASSWORD);
    expect(login.status).toBe(200);
    const account = await visitor.get<{ email: string; name: string; status: string }>('/api/account');
    expect(account.body).toMatchObject({ email: 'Erika.Muster@Firma.example', name: 'Erika Muster', status: 'active' });
  });

  it('answers the same for known and unknown addresses, and tells the known one by mail', async () => {
    const known = await new ApiClient(server).post('/api/auth/register', { email: 'admin@kis.test', language: 'de' });
    const unknown = await new ApiClient(server).post('/api/auth/register', {
      email: 'nobody.yet@kis.test',
      language: 'de',
    });
    expect(known.status).toBe(unknown.status);
    expect(known.body).toEqual(unknown.body);

    const notice = await smtp.waitFor('admin@kis.test', /bereits ein Konto/);
    expect(notice.text).not.toMatch(/\b\d{6}\b/);
    await smtp.waitFor('nobody.yet@kis.test', /Bestätigungscode/);
  });

  it('verifies by the mailed link once, and writes the mail in the chosen language', async () => {
    const visitor = new ApiClient(server);
    await visitor.post('/api/auth/register', { email: 'john@example.org', language: 'en' });
    const mail = await smtp.waitFor('john@example.org', /confirmation code/);
    const token = linkTokenIn(mail);
    expect((await visitor.post('/api/auth/verify', { token })).status).toBe(200);
    expect((await visitor.post('/api/auth/verify', { token })).body).toMatchObject({ error: { code: 'link_invalid' } });
  });

  it('kills a code after five wrong tries', async () => {
    const visitor = new ApiClient(server);
    await visitor.post('/api/auth/register', { email: 'guesser@example.org' });
    const mail = await smtp.waitFor('guesser@example.org');
    const right = codeIn(mail);
    const wrong = right === '000000' ? '111111' : '000000';
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await visitor.post<{ error: { code: string } }>('/api/auth/verify', {
        purpose: 'register',
        email: 'guesser@example.org',
        code: wrong,
      });
      answers.push(res.body.error.code);
    }
    expect(answers).toEqual(['code_invalid', 'code_invalid', 'code_invalid', 'code_invalid', 'code_exhausted']);
    const late = await visitor.post('/api/auth/verify', {
      purpose: 'register',
      email: 'guesser@example.org',
      code: right,
    });
    expect(late.body).toMatchObject({ error: { code: 'code_exhausted' } });
  });

  it('resets a forgotten password by mailed code and ends the old sessions', async () => {
    const owner = new ApiClient(server);
    await owner.post('/api/auth/register', { email: 'forgetful@example.org' });
    const code = codeIn(await smtp.waitFor('forgetful@example.org', /Bestätigungscode/));
    const { body } = await owner.post<{ setupToken: string }>('/api/auth/verify', {
      purpose: 'register',
      email: 'forgetful@example.org',
      code,
    });
    await owner.post('/api/auth/password/setup', { setupToken: body.setupToken, password: GOOD_PASSWORD });
    expect((await owner.login('forgetful@example.org', GOOD_PASSWORD)).status).toBe(200);

    const since = smtp.mails.length;
    const helper = new ApiClient(server, '203.0.113.99');
    expect((await helper.post('/api/auth/password/forgot', { email: 'forgetful@example.org' })).status).toBe(202);
    expect((await helper.post('/api/auth/password/forgot', { email: 'never-registered@example.org' })).status).toBe(
      202,
    );
    const resetCode = codeIn(await smtp.waitFor('forgetful@example.org', /zurücksetzen/, { since }));
    const verified = await helper.post<{ setupToken: string }>('/api/auth/verify', {
      purpose: 'reset',
      email: 'forgetful@example.org',
      code: resetCode,
    });
    expect(verified.status).toBe(200);
    const newPassword = 'Ganz neues Passwort für Tests 8';
    expect(
      (await helper.post('/api/auth/password/setup', { setupToken: verified.body.setupToken, password: newPassword }))
        .status,
    ).toBe(200);

    expect((await owner.get('/api/account')).status).toBe(401);
    expect((await helper.login('forgetful@example.org', GOOD_PASSWORD)).status).toBe(401);
    expect((await helper.login('forgetful@example.org', newPassword)).status).toBe(200);
  });
});
