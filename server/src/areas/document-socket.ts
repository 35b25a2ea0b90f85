import { docAwarenessSchema, docCloseSchema, docOpenSchema, docSyncSchema } from '@kis/protocol/realtime';
import { NotFound, Unauthorized } from '../errors.js';
import { handle } from '../realtime/handle.js';
import type { KisSocketServer, SocketModule } from '../realtime/socket-server.js';
import * as documents from './documents.js';

const DOC_ROOM = /^doc:([0-9a-f]{24})$/;

/**
 * Area 3 over Socket.IO: the standard y-protocols sync and awareness messages, one document per
 * room `doc:<id>`. Every message is checked against the caller's current rights in the service,
 * and a change of those rights is looked at at once: a socket that only reads along sends nothing.
 */
export const documentSocket: SocketModule = (socket, { log, caller, onAccessReview }) => {
  const who = async (activity = false): Promise<NonNullable<Awaited<ReturnType<typeof caller>>>> => {
    const found = await caller({ activity });
    if (!found) throw new Unauthorized('unauthorized');
    return found;
  };

  onAccessReview(async (current) => {
    const kept = new Set(documents.reviewAccess(current, socket.id));
    for (const room of [...socket.rooms]) {
      const docId = DOC_ROOM.exec(room)?.[1];
      if (!docId || kept.has(docId)) continue;
      await socket.leave(room);
      socket.emit('doc:closed', { docId, reason: 'forbidden' });
    }
  });

  socket.on(
    'doc:open',
    handle(docOpenSchema, log, async ({ docId }) => {
      const opened = await documents.openDocument(await who(), docId, socket.id);
      await socket.join(`doc:${docId}`);
      return opened;
    }),
  );
  socket.on(
    'doc:sync',
    handle(docSyncSchema, log, async ({ docId, message }) => {
      try {
        const bytes = new Uint8Array(message);
        // Typing keeps the session alive; the sync handshake a page makes by itself does not.
        return await documents.syncDocument(await who(documents.isEdit(bytes)), docId, socket.id, bytes);
      } catch (err) {
        // The document is gone for this socket (access lost): its news must stop too.
        if (err instanceof NotFound) await socket.leave(`doc:${docId}`);
        throw err;
      }
    }),
  );
  socket.on('doc:awareness', (payload: unknown) => {
    const parsed = docAwarenessSchema.safeParse(payload);
    if (parsed.success) documents.awarenessOf(socket.id, parsed.data.docId, new Uint8Array(parsed.data.update));
  });
  socket.on(
    'doc:close',
    handle(docCloseSchema, log, async ({ docId }) => {
      documents.closeDocument(socket.id, docId);
      await socket.leave(`doc:${docId}`);
      return {};
    }),
  );
  socket.on('disconnect', () => documents.disconnected(socket.id));
};

/** Sends a document's messages to the sockets in its room. */
export function documentTransport(io: KisSocketServer): documents.DocumentTransport {
  const room = (docId: string, except: string | undefined) =>
    except ? io.to(`doc:${docId}`).except(except) : io.to(`doc:${docId}`);
  return {
    relay: (docId, message, except) => room(docId, except).emit('doc:sync', { docId, message }),
    relayAwareness: (docId, update, except) => room(docId, except).emit('doc:awareness', { docId, update }),
    closed: (docId, reason) => {
      io.to(`doc:${docId}`).emit('doc:closed', { docId, reason });
      io.socketsLeave(`doc:${docId}`);
    },
  };
}
