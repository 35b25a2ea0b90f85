import { z } from 'zod';
import type { DepotAlarmKind, DepotView } from '../api/depots.js';
import type { Ack } from './ack.js';
import { atMost } from '../length.js';

/** Sent by the server right after a socket connects, so the client knows whom it talks to. */
export interface WelcomePayload {
  /** Server version, for "please reload" prompts after an update. */
  version: string;
  /** Server clock as ISO 8601, so the client can show how far its own clock is off. */
  serverTime: string;
}

/** `system:ping` asks the server to answer; the client measures the round trip. */
export const pingPayloadSchema = z.object({
  /** Client timestamp in ms, echoed back. */
  sentAt: z.number().int().nonnegative(),
});
export type PingPayload = z.infer<typeof pingPayloadSchema>;

/** Answer to `system:ping`. */
export interface PongValue {
  sentAt: number;
  serverTime: string;
}

/** The idle timeout is near: the page offers to stay signed in. */
export interface SessionExpiringPayload {
  /** Epoch ms when the session ends unless the user acts. */
  expiresAt: number;
}

/** The session ended on the server; the page goes to the login. */
export interface SessionEndedPayload {
  reason:
    'logout' | 'timeout' | 'absolute' | 'revoked' | 'ip_mismatch' | 'ip_not_allowed' | 'password_changed' | 'rotated';
}

/** `depots:watch`: join the rooms of these depots (all the caller may see when omitted). */
export const depotsWatchSchema = z.object({
  depotIds: z
    .array(z.string().regex(/^[0-9a-f]{16}$/))
    .check(atMost(1000))
    .optional(),
});
export type DepotsWatchPayload = z.infer<typeof depotsWatchSchema>;

/** The live view as the room `depot:<id>` gets it (the same for everyone; the role stays the client's). */
export type DepotLiveView = Omit<DepotView, 'role'>;

/** An alarm went up on a depot: the browser shows a notification. */
export interface DepotAlarmPayload {
  depotId: string;
  name: string;
  kind: DepotAlarmKind;
  comp?: number;
  at: string;
}

/** Something entered a depot's history or a command changed state: the depot page reloads its lists. */
export interface DepotChangedPayload {
  depotId: string;
  history: boolean;
  commands: boolean;
}

/** An area changed for this user (a new or changed entry, a file put in or taken out): fetch it again. */
export interface AreaChangedPayload {
  area: 'personal' | 'company' | 'files';
}

/** A Yjs binary message (y-protocols sync or awareness); 2 MiB at most, the socket's own limit. */
const yMessage = z.instanceof(Uint8Array).refine((b) => b.byteLength > 0 && b.byteLength <= 2 * 1024 * 1024, {
  message: 'must be 1 byte to 2 MiB',
});
const documentId = z.string().regex(/^[0-9a-f]{24}$/, 'a document id has 24 hex digits');

/** `doc:open`: start working on a document; the answer carries the server's sync step 1 and awareness. */
export const docOpenSchema = z.object({ docId: documentId });
/** `doc:sync`: a y-protocols sync message (step 1, step 2 or update) for one document. */
export const docSyncSchema = z.object({ docId: documentId, message: yMessage });
/** `doc:awareness`: a y-protocols awareness update (cursor, name, colour). */
export const docAwarenessSchema = z.object({ docId: documentId, update: yMessage });
/** `doc:close`: stop working on a document. */
export const docCloseSchema = z.object({ docId: documentId });

/** Answer to `doc:open`. */
export interface DocOpenValue {
  access: 'edit' | 'read';
  title: string;
  /** Sync step 1 of the server (its state vector): the client answers with step 2. */
  sync: Uint8Array;
  /** The awareness states of everyone else in the document. */
  awareness: Uint8Array;
}

/** Answer to `doc:sync`: the server's reply (step 2 for a step 1), if any, once the update is stored. */
export interface DocSyncValue {
  reply?: Uint8Array;
}

/** The server relays a document's sync message or awareness update to the others in it. */
export interface DocSyncPayload {
  docId: string;
  message: Uint8Array;
}
export interface DocAwarenessPayload {
  docId: string;
  update: Uint8Array;
}
/** A document was deleted or the access taken away: the editor closes. */
export interface DocClosedPayload {
  docId: string;
  reason: 'deleted' | 'forbidden';
}

/** Events the server sends to browsers. */
export interface ServerToClientEvents {
  'system:welcome': (payload: WelcomePayload & { authenticated: boolean }) => void;
  'session:expiring': (payload: SessionExpiringPayload) => void;
  'session:extended': (payload: SessionExpiringPayload) => void;
  'session:ended': (payload: SessionEndedPayload) => void;
  'depot:update': (payload: DepotLiveView) => void;
  'depot:alarm': (payload: DepotAlarmPayload) => void;
  'depot:changed': (payload: DepotChangedPayload) => void;
  'areas:changed': (payload: AreaChangedPayload) => void;
  'doc:sync': (payload: DocSyncPayload) => void;
  'doc:awareness': (payload: DocAwarenessPayload) => void;
  'doc:closed': (payload: DocClosedPayload) => void;
}

/** Events browsers send to the server; each payload has its schema above. */
export interface ClientToServerEvents {
  'system:ping': (payload: PingPayload, ack: (answer: Ack<PongValue>) => void) => void;
  'depots:watch': (payload: DepotsWatchPayload, ack: (answer: Ack<DepotView[]>) => void) => void;
  'doc:open': (payload: z.infer<typeof docOpenSchema>, ack: (answer: Ack<DocOpenValue>) => void) => void;
  'doc:sync': (payload: DocSyncPayload, ack: (answer: Ack<DocSyncValue>) => void) => void;
  'doc:awareness': (payload: DocAwarenessPayload) => void;
  'doc:close': (payload: z.infer<typeof docCloseSchema>, ack: (answer: Ack<Record<string, never>>) => void) => void;
}
