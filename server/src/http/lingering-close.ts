import type { Socket } from 'node:net';

/** How long a connection goes on reading after an early answer: time for any client to read it. */
const LINGER_MS = 2000;
/**
 * At most this much more of the refused body is read (and thrown away) before the connection is
 * cut. Time is the real bound: a cut after 16 MiB came within milliseconds on loopback, before a
 * busy client had read the answer, and the reset then took the unread answer with it (seen in CI).
 */
const LINGER_BYTES = 1024 * 1024 * 1024;

const lingering = new WeakSet<Socket>();

/**
 * Makes the close after an answer that came before the request's body had arrived (a refused
 * upload, a body over the limit) a lingering close, as RFC 9112 §9.6 asks: the answer and a FIN go
 * out, the rest of the body is read and dropped for a moment, then the connection is cut.
 *
 * Why: Node ends such a connection with `socket.destroySoon()`, which closes the socket while the
 * client's bytes are still unread; the kernel then answers with a reset, and a client still sending
 * often lost the answer with it (measured: 9 of 30 JSON bodies over the limit got a reset instead
 * of the 413). A browser then shows a network error instead of "file too large".
 *
 * @example
 * app.addHook('onSend', async (request, reply) => {
 *   if (!request.raw.complete) { reply.header('connection', 'close'); lingerOnClose(request.raw.socket); }
 * });
 */
export function lingerOnClose(socket: Socket): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  // Node's HTTP server calls destroySoon() once the answer is written; this socket lingers instead.
  Object.assign(socket, {
    destroySoon(): void {
      socket.end();
      const start = socket.bytesRead;
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      timer.unref();
      const onData = (): void => {
        if (socket.bytesRead - start > LINGER_BYTES) socket.destroy();
      };
      socket.on('data', onData);
      socket.once('close', () => {
        clearTimeout(timer);
        socket.off('data', onData);
      });
    },
  });
}
