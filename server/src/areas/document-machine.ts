import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { assertEvent, enqueueActions, setup, type ActorRefFrom } from 'xstate';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { fitsSchema } from './document-schema.js';

/**
 * The life of one open area-3 document on the server. Its Y.Doc is the source of truth: clients
 * never seed content, they only send what they changed.
 *
 *   active ──(last editor leaves)──► idle ──(idle time)──► unloading ──► unloaded
 *     ▲                               │
 *     └──────────── JOIN ─────────────┘
 *
 * A sync message from a client is answered (step 1 → step 2) or, for an update, checked, stored
 * (the injected `append`), and only then applied, relayed to the others and confirmed. Updates are
 * compacted into the stored state every {@link COMPACT_EVERY} updates and when the document unloads.
 * The machine does no I/O itself: loading happens before it starts, storing through `effects`.
 */

/** Updates between two compactions: a few hundred keystrokes. */
export const COMPACT_EVERY = 200;

/** What a client's message came back with. */
export type SyncResult = { ok: true; reply?: Uint8Array } | { ok: false; code: SyncRefusal };
export type SyncRefusal = 'malformed' | 'read_only' | 'too_large' | 'store_failed';

/** Side effects the document service provides. */
export interface DocumentEffects {
  /** Appends an accepted update; resolves once it is durable. */
  append(docId: string, seq: number, update: Uint8Array, by: string): Promise<void>;
  /** Stores the whole document as of `seq` and drops the updates it covers. */
  compact(docId: string, state: Uint8Array, seq: number): Promise<void>;
  /** Sends a message to every client of the document but one. */
  relay(docId: string, message: Uint8Array, exceptClientId: string | undefined): void;
  relayAwareness(docId: string, update: Uint8Array, exceptClientId: string | undefined): void;
  /** Someone changed the content (the service keeps "last editor" and "changed at"). */
  changed(docId: string, by: string): void;
  /** A background step failed (compaction): logged by the service. */
  failed(docId: string, what: string, err: unknown): void;
}

export interface DocumentInput {
  docId: string;
  /** The stored document, merged (state and later updates), or null for an empty one. */
  state: Uint8Array | null;
  /** The sequence number of the last stored update. */
  seq: number;
  /** Encoded size of what is stored, to enforce {@link maxBytes}. */
  bytes: number;
  maxBytes: number;
  /** How long the document stays loaded after the last editor left (ms). */
  idleMs: number;
  effects: DocumentEffects;
}

/** A client working on the document: a socket, its user's address and what it may do. */
export interface DocumentClient {
  email: string;
  access: 'edit' | 'read';
  /** Awareness client ids this socket announced, removed when it leaves. */
  awarenessIds: Set<number>;
}

export interface DocumentContext {
  docId: string;
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  clients: Map<string, DocumentClient>;
  seq: number;
  /** Updates stored since the last compaction. */
  sinceCompaction: number;
  bytes: number;
  maxBytes: number;
  idleMs: number;
  effects: DocumentEffects;
}

export type DocumentEvent =
  | {
      type: 'JOIN';
      clientId: string;
      email: string;
      access: 'edit' | 'read';
      reply: (opened: { sync: Uint8Array; awareness: Uint8Array }) => void;
    }
  | { type: 'LEAVE'; clientId: string }
  /** The client's user lost the right to edit since it joined: it reads along from now on. */
  | { type: 'READ_ONLY'; clientId: string }
  | { type: 'SYNC'; clientId: string; message: Uint8Array; reply: (result: SyncResult) => void }
  | { type: 'AWARENESS'; clientId: string; update: Uint8Array }
  /** A change made by the server (restoring a version): stored and sent like a client's. */
  | { type: 'APPLY'; update: Uint8Array; by: string; reply: (result: SyncResult) => void }
  | {
      type: 'STORED';
      clientId: string | undefined;
      update: Uint8Array;
      by: string;
      reply: (result: SyncResult) => void;
    }
  | { type: 'STORE_FAILED'; reply: (result: SyncResult) => void };

const MESSAGE_SYNC_STEP1 = syncProtocol.messageYjsSyncStep1;
const MESSAGE_SYNC_STEP2 = syncProtocol.messageYjsSyncStep2;
const MESSAGE_UPDATE = syncProtocol.messageYjsUpdate;

/** True when an update carries nothing (a step 2 from a client that had nothing new). */
function isEmptyUpdate(update: Uint8Array): boolean {
  const { structs, ds } = Y.decodeUpdate(update);
  return structs.length === 0 && ds.clients.size === 0;
}

/** Encodes an update as the sync message the others receive. */
function updateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** The server's sync step 1 (its state vector), which a joining client answers with what it has. */
function syncStep1(doc: Y.Doc): Uint8Array {
  const encoder = encoding.createEncoder();
  syncProtocol.writeSyncStep1(encoder, doc);
  return encoding.toUint8Array(encoder);
}

export const documentMachine = setup({
  types: {
    context: {} as DocumentContext,
    input: {} as DocumentInput,
    events: {} as DocumentEvent,
  },
  delays: {
    idle: ({ context }) => context.idleMs,
  },
  guards: {
    nobodyLeft: ({ context }) => context.clients.size === 0,
  },
  actions: {
    join: enqueueActions(({ context, event }) => {
      assertEvent(event, 'JOIN');
      context.clients.set(event.clientId, { email: event.email, access: event.access, awarenessIds: new Set() });
      const states = [...context.awareness.getStates().keys()];
      event.reply({
        sync: syncStep1(context.doc),
        awareness: awarenessProtocol.encodeAwarenessUpdate(context.awareness, states),
      });
    }),

    leave: enqueueActions(({ context, event }) => {
      assertEvent(event, 'LEAVE');
      const client = context.clients.get(event.clientId);
      if (!client) return;
      context.clients.delete(event.clientId);
      const ids = [...client.awarenessIds];
      if (!ids.length) return;
      const removal = awarenessProtocol.encodeAwarenessUpdate(context.awareness, ids);
      awarenessProtocol.removeAwarenessStates(context.awareness, ids, 'leave');
      context.effects.relayAwareness(context.docId, removal, event.clientId);
    }),

    /**
     * A sync message: step 1 is answered at once; an update (step 2 or update) is checked and
     * handed to `append`; `STORED` applies it once it is durable.
     */
    sync: enqueueActions(({ context, event, enqueue, self }) => {
      assertEvent(event, 'SYNC');
      const client = context.clients.get(event.clientId);
      if (!client) return event.reply({ ok: false, code: 'read_only' });
      let type: number;
      let update: Uint8Array;
      try {
        const decoder = decoding.createDecoder(event.message);
        type = decoding.readVarUint(decoder);
        if (type === MESSAGE_SYNC_STEP1) {
          const encoder = encoding.createEncoder();
          syncProtocol.readSyncStep1(decoder, encoder, context.doc);
          return event.reply({ ok: true, reply: encoding.toUint8Array(encoder) });
        }
        if (type !== MESSAGE_SYNC_STEP2 && type !== MESSAGE_UPDATE)
          return event.reply({ ok: false, code: 'malformed' });
        update = decoding.readVarUint8Array(decoder);
        if (isEmptyUpdate(update)) return event.reply({ ok: true });
        if (!fitsSchema(update)) return event.reply({ ok: false, code: 'malformed' });
      } catch {
        return event.reply({ ok: false, code: 'malformed' });
      }
      if (client.access !== 'edit') return event.reply({ ok: false, code: 'read_only' });
      if (context.bytes + update.byteLength > context.maxBytes) return event.reply({ ok: false, code: 'too_large' });
      const seq = context.seq + 1;
      enqueue.assign({ seq, bytes: context.bytes + update.byteLength });
      const { docId, effects } = context;
      const clientId = event.clientId;
      const { reply } = event;
      effects.append(docId, seq, update, client.email).then(
        () => self.send({ type: 'STORED', clientId, update, by: client.email, reply }),
        (err: unknown) => {
          effects.failed(docId, 'append', err);
          self.send({ type: 'STORE_FAILED', reply });
        },
      );
    }),

    apply: enqueueActions(({ context, event, enqueue, self }) => {
      assertEvent(event, 'APPLY');
      const seq = context.seq + 1;
      enqueue.assign({ seq, bytes: context.bytes + event.update.byteLength });
      const { docId, effects } = context;
      const { update, by, reply } = event;
      effects.append(docId, seq, update, by).then(
        () => self.send({ type: 'STORED', clientId: undefined, update, by, reply }),
        (err: unknown) => {
          effects.failed(docId, 'append', err);
          self.send({ type: 'STORE_FAILED', reply });
        },
      );
    }),

    /** A durable update: apply, relay to the others, confirm, and compact now and then. */
    stored: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'STORED');
      try {
        Y.applyUpdate(context.doc, event.update, event.clientId ?? 'server');
      } catch (err) {
        // Decoded but not applicable: stored, and skipped again at the next load.
        context.effects.failed(context.docId, 'apply', err);
        return event.reply({ ok: false, code: 'malformed' });
      }
      context.effects.relay(context.docId, updateMessage(event.update), event.clientId);
      context.effects.changed(context.docId, event.by);
      event.reply({ ok: true });
      const since = context.sinceCompaction + 1;
      if (since < COMPACT_EVERY) {
        enqueue.assign({ sinceCompaction: since });
        return;
      }
      enqueue.assign({ sinceCompaction: 0 });
      const { docId, effects, seq } = context;
      effects
        .compact(docId, Y.encodeStateAsUpdate(context.doc), seq)
        .catch((err: unknown) => effects.failed(docId, 'compact', err));
    }),

    readOnly: ({ context, event }) => {
      assertEvent(event, 'READ_ONLY');
      const client = context.clients.get(event.clientId);
      if (client) client.access = 'read';
    },

    storeFailed: ({ event }) => {
      assertEvent(event, 'STORE_FAILED');
      event.reply({ ok: false, code: 'store_failed' });
    },

    awareness: ({ context, event }) => {
      assertEvent(event, 'AWARENESS');
      const client = context.clients.get(event.clientId);
      if (!client) return;
      try {
        // Which awareness ids this socket speaks for: removed again when it leaves.
        const decoder = decoding.createDecoder(event.update);
        const count = decoding.readVarUint(decoder);
        for (let i = 0; i < count; i++) {
          client.awarenessIds.add(decoding.readVarUint(decoder));
          decoding.readVarUint(decoder);
          decoding.readVarString(decoder);
        }
        awarenessProtocol.applyAwarenessUpdate(context.awareness, event.update, event.clientId);
      } catch {
        return;
      }
      context.effects.relayAwareness(context.docId, event.update, event.clientId);
    },
  },
}).createMachine({
  id: 'document',
  context: ({ input }) => {
    const doc = new Y.Doc({ gc: true });
    if (input.state) Y.applyUpdate(doc, input.state);
    const awareness = new awarenessProtocol.Awareness(doc);
    // The server is not an editor: no cursor of its own.
    awareness.setLocalState(null);
    return {
      docId: input.docId,
      doc,
      awareness,
      clients: new Map(),
      seq: input.seq,
      sinceCompaction: 0,
      bytes: input.bytes,
      maxBytes: input.maxBytes,
      idleMs: input.idleMs,
      effects: input.effects,
    };
  },
  initial: 'idle',
  on: {
    SYNC: { actions: 'sync' },
    APPLY: { actions: 'apply' },
    STORED: { actions: 'stored' },
    STORE_FAILED: { actions: 'storeFailed' },
    AWARENESS: { actions: 'awareness' },
    READ_ONLY: { actions: 'readOnly' },
  },
  states: {
    active: {
      on: {
        JOIN: { actions: 'join' },
        LEAVE: [{ actions: 'leave', target: 'checking' }],
      },
    },
    checking: {
      always: [{ guard: 'nobodyLeft', target: 'idle' }, { target: 'active' }],
    },
    idle: {
      after: { idle: 'unloading' },
      on: {
        JOIN: { actions: 'join', target: 'active' },
      },
    },
    // The service compacts the final state and waits for that before the document loads again.
    unloading: { type: 'final' },
  },
});

export type DocumentActor = ActorRefFrom<typeof documentMachine>;
