/**
 * Socket.IO contracts shared by server and web: typed event maps and the zod schema of every
 * client→server payload. The server validates each payload with these schemas before use.
 */
export * from './events.js';
export * from './ack.js';
