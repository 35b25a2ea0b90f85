import type { KisSocketServer } from '../realtime/socket-server.js';
import type { AreasNotifier } from './files.js';

/**
 * Tells browsers that an area changed: area 1 and 4 news go to the room `user:<id>`, area 2 news
 * to `maildomain:<domain>`, which every signed-in socket joins for the domain of its address.
 * The event names only the area; the browser fetches it again, and the service decides what it sees.
 */
export function areasNotifier(io: KisSocketServer): AreasNotifier {
  return {
    user: (userId, payload) => io.to(`user:${userId}`).emit('areas:changed', payload),
    domain: (domain, payload) => io.to(`maildomain:${domain}`).emit('areas:changed', payload),
  };
}
