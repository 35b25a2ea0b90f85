import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, registerCustomer } from '../../helpers/api.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { codeIn, startSmtp, type TestSmtp } from '../../helpers/smtp.js';

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

describe('e-mail change', () => {
  it('asks for the password, confirms the new address by code, and tells the old one', async () => {
    const user = await customer('alt@firma.example');
    const wrong = await user.post('/api/account/email', {
      newEmail: 'neu@firma.example',
      password: 'not the right password',
    });
    expect(wrong.body).toMatchObject({ error: { code: 'current_password_wrong' } });

    expect(
      (await user.post('/api/account/email', { newEmail: 'Neu@Firma.example', password: GOOD_PASSWORD })).status,
    ).toBe(202);
    const code = codeIn(await smtp.waitFor('neu@firma.example', /Neue E-Mail-Adresse/));
    // Until confirmed, the old address is still the login.
    expect((await new ApiClient(server, '192.0.2.90').login('alt@firma.example', GOOD_PASSWORD)).status).toBe(200);

    const confirmed = await user.post<{ email: string }>('/api/account/email/confirm', { code });
    expect(confirmed.body.email).toBe('Neu@Firma.example');
    const notice = await smtp.waitFor('alt@firma.example', /E-Mail-Adresse wurde geändert/);
    expect(notice.text).toContain('Neu@Firma.example');

    expect((await new ApiClient(server, '192.0.2.91').login('alt@firma.example', GOOD_PASSWORD)).status).toBe(401);
    expect((await new ApiClient(server, '192.0.2.92').login('neu@firma.example', GOOD_PASSWORD)).status).toBe(200);
  });

  it('answers the same for a taken address and changes nothing', async () => {
    const user = await customer('zwei@firma.example');
    const res = await user.post('/api/account/email', { newEmail: 'admin@kis.test', password: GOOD_PASSWORD });
    expect(res.status).toBe(202);
    const notice = await smtp.waitFor('admin@kis.test', /bereits vergeben/);
    expect(notice.text).not.toMatch(/\b\d{6}\b/);
    expect((await user.post('/api/account/email/confirm', { code: '123456' })).body).toMatchObject({
      error: { code: 'code_invalid' },
    });
  });
});

let ip = 100;
const customer = (email: string): Promise<ApiClient> => registerCustomer(server, smtp, email, `192.0.2.${ip++}`);
