import { depotsWatchSchema } from '@kis/protocol/realtime';
import { Unauthorized } from '../errors.js';
import { handle } from '../realtime/handle.js';
import { reviewUserSockets, type KisSocketServer, type SocketModule } from '../realtime/socket-server.js';
import * as depots from './service.js';

/** The depot rooms a socket is in. */
const DEPOT_ROOM = /^depot:([0-9a-f]{16})$/;

/**
 * `depots:watch`: a browser joins the rooms `depot:<id>` of the depots its user may see and gets
 * their live views as the answer; updates follow as `depot:update`, alarms as `depot:alarm`. When
 * the user's access changes, the socket keeps only the depots it may still watch.
 */
export const depotSocket: SocketModule = (socket, { log, caller, onAccessReview }) => {
  onAccessReview(async (who) => {
    const watched = [...socket.rooms].flatMap((room) => DEPOT_ROOM.exec(room)?.[1] ?? []);
    if (watched.length === 0) return;
    const allowed = new Set((await depots.watchableDepots(who, watched)).map((v) => v.depotId));
    for (const id of watched) if (!allowed.has(id)) await socket.leave(`depot:${id}`);
  });

  socket.on(
    'depots:watch',
    handle(depotsWatchSchema, log, async (payload) => {
      const who = await caller();
      if (!who) throw new Unauthorized('unauthorized');
      const views = await depots.watchableDepots(who, payload.depotIds);
      // Leave rooms of depots no longer watched (rights may have been taken away).
      for (const room of socket.rooms) if (room.startsWith('depot:')) await socket.leave(room);
      await socket.join(views.map((v) => `depot:${v.depotId}`));
      return views;
    }),
  );
};

/** Sends depot news to the rooms of the depots they are about. */
export function depotNotifier(io: KisSocketServer): depots.DepotNotifierLike {
  return {
    // Rooms of this process (KIS runs one, with Socket.IO's in-memory adapter).
    watched: (depotId) => (io.sockets.adapter.rooms.get(`depot:${depotId}`)?.size ?? 0) > 0,
    update: (view) => io.to(`depot:${view.depotId}`).emit('depot:update', view),
    alarm: (alarm) => io.to(`depot:${alarm.depotId}`).emit('depot:alarm', alarm),
    changed: (change) => io.to(`depot:${change.depotId}`).emit('depot:changed', change),
    revoked: async (depotId, userIds) => {
      if (!userIds) io.socketsLeave(`depot:${depotId}`);
      // Only these users lost something: their sockets keep what their rights still show.
      else await Promise.all(userIds.map((id) => reviewUserSockets(io, id)));
    },
  };
}
