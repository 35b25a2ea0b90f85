import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers a test stops and starts again). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
