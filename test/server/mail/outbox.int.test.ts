import { describe, expect, it } from 'vitest';
import { ApiClient, createFirstAdmin } from '../../helpers/api.js';
import { freePort } from '../../helpers/net.js';
import { eventually, startServer } from '../../helpers/server.js';
import { startSmtp } from '../../helpers/smtp.js';

interface Outbox {
  items: Array<{
    to: string;
    subject: string;
    text: string;
    status: string;
    attempts: number;
    lastError: string | null;
  }>;
  total: number;
  mailConfigured: boolean;
}

describe('mail outbox', () => {
  it('keeps mails for admins to read when no SMTP server is configured, one-time codes masked', async () => {
    const server = await startServer();
    try {
      const admin = await createFirstAdmin(server, 'admin@kis.test');
      await new ApiClient(server).post('/api/auth/register', { email: 'lokal@kunde.example' });
      const outbox = await admin.get<Outbox>('/api/admin/outbox');
      expect(outbox.body.mailConfigured).toBe(false);
      const mail = outbox.body.items.find((m) => m.to === 'lokal@kunde.example');
      expect(mail).toMatchObject({ status: 'queued', attempts: 0 });
      // The code would let whoever reads the outbox register the address: it stays hidden.
      expect(mail?.text).not.toMatch(/\b\d{6}\b/);
      expect(mail?.text).toContain('••••••');
      expect(server.logs.some((l) => String(l.msg).includes('SMTP_URL is not set'))).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it('loses no mail while the SMTP server is down and delivers it when it returns', async () => {
    const port = await freePort();
    const server = await startServer({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    try {
      const admin = await createFirstAdmin(server, 'admin@kis.test');
      await new ApiClient(server).post('/api/auth/register', { email: 'geduldig@kunde.example' });
      await eventually(
        async () => {
          const { body } = await admin.get<Outbox>('/api/admin/outbox');
          const mail = body.items.find((m) => m.to === 'geduldig@kunde.example');
          return (mail?.attempts ?? 0) >= 1 && mail?.lastError !== null && mail?.status === 'queued';
        },
        15_000,
        'a failed delivery attempt',
      );

      const smtp = await startSmtp(port);
      try {
        const mail = await smtp.waitFor('geduldig@kunde.example', /Bestätigungscode/, { timeoutMs: 40_000 });
        expect(mail.text).toMatch(/\b\d{6}\b/);
        await eventually(
          async () =>
            (await admin.get<Outbox>('/api/admin/outbox')).body.items.find((m) => m.to === 'geduldig@kunde.example')
              ?.status === 'sent',
          10_000,
          'the outbox to mark the mail sent',
        );
      } finally {
        await smtp.close();
      }
    } finally {
      await server.stop();
    }
  });
});
