import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { connectSocket } from '../helpers/areas.js';
import { YClient } from '../helpers/documents.js';
import { customer } from '../helpers/organizations.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

/**
 * Issue 20, finding "polling pages keep sessions alive forever": a tab left open on a page that
 * looks for news by itself (an invoice waiting for its payment, a list following changes) must
 * not keep an abandoned session alive. Only what the user does counts: navigating, acting,
 * typing in a shared text. What the page does by itself, and the socket's heartbeat, do not.
 */

/** Seconds without activity that end a session in this test (and the warning before). */
const IDLE_SECONDS = 6;
const WARNING_SECONDS = 2;
/** How long each client keeps at it: well past the idle timeout. */
const RUN_MS = (IDLE_SECONDS + 3) * 1000;

let server: TestServer;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({
    env: {
      SMTP_URL: smtp.url,
      KIS_SESSION_IDLE_SECONDS: String(IDLE_SECONDS),
      KIS_SESSION_WARNING_SECONDS: String(WARNING_SECONDS),
    },
  });
  await createFirstAdmin(server);
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
});

/** Does `step` once a second for {@link RUN_MS}. */
async function everySecond(step: () => Promise<void>): Promise<void> {
  const end = Date.now() + RUN_MS;
  while (Date.now() < end) {
    await step();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Whether the client's session still holds, asked as a deliberate request (a page load). */
async function signedIn(client: ApiClient): Promise<boolean> {
  return (await client.get('/api/auth/session')).status === 200;
}

describe('what keeps a session alive', () => {
  it('signs out a tab that only polls in the background once the idle time is over', async () => {
    const user = await customer(server, smtp, 'wartet@kunde.example');
    const answers: number[] = [];
    await everySecond(async () => {
      const res = await user.request('GET', '/api/areas/summary', undefined, { 'x-kis-background': '1' });
      answers.push(res.status);
    });
    expect(answers[0]).toBe(200);
    expect(answers.at(-1)).toBe(401);
    expect(await signedIn(user)).toBe(false);
  });

  it('keeps a user in who keeps working', async () => {
    const user = await customer(server, smtp, 'fleissig@kunde.example');
    await everySecond(async () => {
      expect((await user.get('/api/areas/summary')).status).toBe(200);
    });
    expect(await signedIn(user)).toBe(true);
  });

  it('keeps a user in who keeps typing in a shared text, and signs out one whose socket only pings', async () => {
    const typist = await customer(server, smtp, 'tippt@kunde.example');
    const idler = await customer(server, smtp, 'pingt@kunde.example');
    const doc = await typist.post<{ id: string }>('/api/documents', { title: 'Notizen' });
    expect(doc.status).toBe(200);
    const editor = new YClient(await connectSocket(server, typist), doc.body.id);
    const pinger = await connectSocket(server, idler);
    try {
      expect((await editor.open()).ok).toBe(true);
      await Promise.all([
        everySecond(async () => {
          editor.insert(0, 'x');
          expect((await editor.settled()).every((a) => a.ok)).toBe(true);
        }),
        everySecond(async () => {
          // The server may sign the idler out between the check and the answer: then no answer comes.
          if (pinger.connected)
            await pinger
              .timeout(2000)
              .emitWithAck('system:ping', { sentAt: Date.now() })
              .catch(() => undefined);
        }),
      ]);
      expect(await signedIn(typist)).toBe(true);
      expect(await signedIn(idler)).toBe(false);
    } finally {
      editor.socket.close();
      pinger.close();
    }
  });
});
