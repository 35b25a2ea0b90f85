import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import type { DocAwarenessPayload, DocClosedPayload, DocSyncPayload } from '@kis/protocol/realtime';
import type { Connection } from '$lib/realtime/connection.svelte';

/** Where the editor stands with the server. */
export type DocumentStatus = 'connecting' | 'saved' | 'saving' | 'offline' | 'closed' | 'refused';

/** Binary from Socket.IO: an ArrayBuffer in browsers, a Uint8Array elsewhere. */
function bytes(value: ArrayBuffer | Uint8Array): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value);
}

/**
 * A Yjs provider over the portal's Socket.IO connection, speaking the standard y-protocols sync
 * and awareness messages (`doc:*`). The server's document is the source of truth: on every
 * (re)connect both sides exchange state vectors and send each other only what the other lacks,
 * so edits made offline merge when the connection returns, and nothing is seeded twice.
 *
 * @example
 * const provider = new SocketYProvider(getConnection(), docId, { name: 'Anna', color: '#0f4c5c' });
 * // Tiptap: Collaboration.configure({ document: provider.doc }), CollaborationCaret.configure({ provider })
 * onDestroy(() => provider.destroy());
 */
export class SocketYProvider {
  readonly doc = new Y.Doc();
  readonly awareness = new awarenessProtocol.Awareness(this.doc);
  status = $state<DocumentStatus>('connecting');
  access = $state<'edit' | 'read' | undefined>(undefined);
  title = $state('');
  /** Updates sent and not yet confirmed as stored. */
  private unconfirmed = 0;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly connection: Connection,
    readonly docId: string,
    user: { name: string; color: string },
  ) {
    const socket = connection.socket;
    this.awareness.setLocalStateField('user', user);

    const onSync = (payload: DocSyncPayload): void => {
      if (payload.docId !== this.docId) return;
      const encoder = encoding.createEncoder();
      syncProtocol.readSyncMessage(decoding.createDecoder(bytes(payload.message)), encoder, this.doc, this);
    };
    const onAwareness = (payload: DocAwarenessPayload): void => {
      if (payload.docId === this.docId)
        awarenessProtocol.applyAwarenessUpdate(this.awareness, bytes(payload.update), this);
    };
    const onClosed = (payload: DocClosedPayload): void => {
      if (payload.docId === this.docId) this.status = 'closed';
    };
    const onConnect = (): void => void this.open();
    const onDisconnect = (): void => {
      if (this.status !== 'closed' && this.status !== 'refused') this.status = 'offline';
    };
    socket.on('doc:sync', onSync);
    socket.on('doc:awareness', onAwareness);
    socket.on('doc:closed', onClosed);
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    this.offs.push(
      () => socket.off('doc:sync', onSync),
      () => socket.off('doc:awareness', onAwareness),
      () => socket.off('doc:closed', onClosed),
      () => socket.off('connect', onConnect),
      () => socket.off('disconnect', onDisconnect),
    );

    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      // Only our own edits go out; what came from the server is already there.
      if (origin === this || !socket.connected || this.access !== 'edit') return;
      const encoder = encoding.createEncoder();
      syncProtocol.writeUpdate(encoder, update);
      this.send(encoding.toUint8Array(encoder));
    };
    this.doc.on('update', onUpdate);
    this.offs.push(() => this.doc.off('update', onUpdate));

    const onAwarenessChange = (
      { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
      origin: unknown,
    ): void => {
      if (origin !== 'local' || !socket.connected || !this.access) return;
      const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...added, ...updated, ...removed]);
      socket.emit('doc:awareness', { docId: this.docId, update });
    };
    this.awareness.on('update', onAwarenessChange);
    this.offs.push(() => this.awareness.off('update', onAwarenessChange));

    if (socket.connected) void this.open();
  }

  /** Joins the document and syncs both ways (again after every reconnect). */
  private async open(): Promise<void> {
    const socket = this.connection.socket;
    this.status = 'connecting';
    let answer;
    try {
      answer = await socket.timeout(15_000).emitWithAck('doc:open', { docId: this.docId });
    } catch {
      this.status = 'offline';
      return;
    }
    if (!answer.ok) {
      this.status = 'refused';
      return;
    }
    this.access = answer.value.access;
    this.title = answer.value.title;
    awarenessProtocol.applyAwarenessUpdate(this.awareness, bytes(answer.value.awareness), this);
    // The server's step 1: answer with what it lacks (edits made while offline included).
    const encoder = encoding.createEncoder();
    syncProtocol.readSyncMessage(decoding.createDecoder(bytes(answer.value.sync)), encoder, this.doc, this);
    if (this.access === 'edit' && encoding.length(encoder) > 0) this.send(encoding.toUint8Array(encoder));
    // Our step 1: the server answers with what we lack.
    const step1 = encoding.createEncoder();
    syncProtocol.writeSyncStep1(step1, this.doc);
    this.send(encoding.toUint8Array(step1));
    const state = this.awareness.getLocalState();
    if (state) {
      socket.emit('doc:awareness', {
        docId: this.docId,
        update: awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]),
      });
    }
  }

  private send(message: Uint8Array): void {
    this.unconfirmed += 1;
    this.status = 'saving';
    this.connection.socket
      .timeout(15_000)
      .emitWithAck('doc:sync', { docId: this.docId, message })
      .then(
        (answer) => {
          if (answer.ok && answer.value.reply) {
            syncProtocol.readSyncMessage(
              decoding.createDecoder(bytes(answer.value.reply)),
              encoding.createEncoder(),
              this.doc,
              this,
            );
          }
        },
        () => undefined,
      )
      .finally(() => {
        this.unconfirmed -= 1;
        if (this.unconfirmed === 0 && this.status === 'saving') this.status = 'saved';
      });
  }

  /** Leaves the document; the server forgets this editor's cursor. */
  destroy(): void {
    for (const off of this.offs) off();
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local');
    if (this.connection.socket.connected)
      this.connection.socket.emit('doc:close', { docId: this.docId }, () => undefined);
    this.awareness.destroy();
    this.doc.destroy();
  }
}
