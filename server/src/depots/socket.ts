import { depotsWatchSchema } from '@kis/protocol/realtime';
import { Unauthorized } from '../errors.js';
import { handle } from '../realtime/handle.js';
import type { KisSocketServer, SocketModule } from '../realtime/socket-server.js';
import * as depots from './service.js';

/**
 * `depots:watch`: a browser joins the rooms `depot:<id>` of the depots its user may see and gets
 * their live views as the answer; updates follow as `depot:update`, alarms as `depot:alarm`.
 */
export const depotSocket: SocketModule = (socket, { log, caller }) => {
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
    update: (view) => io.to(`depot:${view.depotId}`).emit('depot:update', view),
    alarm: (alarm) => io.to(`depot:${alarm.depotId}`).emit('depot:alarm', alarm),
    changed: (change) => io.to(`depot:${change.depotId}`).emit('depot:changed', change),
    revoked: (depotId, userIds) => {
      const room = `depot:${depotId}`;
      if (!userIds) io.socketsLeave(room);
      else for (const id of userIds) io.in(`user:${id}`).socketsLeave(room);
    },
  };
}
