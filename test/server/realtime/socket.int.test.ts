import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  Ack,
  ClientToServerEvents,
  PongValue,
  ServerToClientEvents,
  WelcomePayload,
} from '@kis/protocol/realtime';
import { startServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
const sockets: Socket[] = [];

function connect(extraHeaders: Record<string, string> = {}): Socket<ServerToClientEvents, ClientToServerEvents> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, {
    transports: ['websocket'],
    reconnection: false,
    extraHeaders,
  });
  sockets.push(socket);
  return socket;
}

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.stop();
});

describe('Socket.IO', () => {
  it('greets a connecting browser with the server version and time', async () => {
    const socket = connect({ origin: server.url });
    const welcome = await new Promise<WelcomePayload>((resolve) => socket.once('system:welcome', resolve));
    expect(welcome.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(Math.abs(Date.parse(welcome.serverTime) - Date.now())).toBeLessThan(5000);
  });

  it('answers a ping and rejects a malformed payload with an error ack', async () => {
    const socket = connect({ origin: server.url });
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
    const pong = await socket.timeout(5000).emitWithAck('system:ping', { sentAt: 42 });
    expect(pong).toMatchObject({ ok: true, value: { sentAt: 42 } });

    const bad = (await socket.timeout(5000).emitWithAck('system:ping', { sentAt: 'soon' } as never)) as Ack<PongValue>;
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid' } });
    // The connection survives the bad payload.
    expect(socket.connected).toBe(true);
  });

  it('refuses a page from another origin', async () => {
    const socket = connect({ origin: 'https://evil.example' });
    const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
    expect(error).toBeInstanceOf(Error);
    expect(socket.connected).toBe(false);
  });
});
