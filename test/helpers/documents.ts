import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Socket } from 'socket.io-client';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import type { Ack, ClientToServerEvents, DocOpenValue, ServerToClientEvents } from '@kis/protocol/realtime';

type KisSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * An editor as a browser runs one, without the browser: a Y.Doc kept in sync with the server over
 * the socket's doc:* events (y-protocols sync messages). Local changes are sent as updates; each
 * send's answer is kept, so a test can wait until the server confirmed it stored them.
 */
export class YClient {
  readonly doc = new Y.Doc();
  access: 'edit' | 'read' | undefined;
  /** Answers to the updates this client sent, in order. */
  readonly answers: Array<Ack<unknown>> = [];
  private pending: Array<Promise<Ack<unknown>>> = [];

  constructor(
    readonly socket: KisSocket,
    readonly docId: string,
  ) {
    socket.on('doc:sync', ({ docId: id, message }) => {
      if (id !== this.docId) return;
      const decoder = decoding.createDecoder(new Uint8Array(message));
      syncProtocol.readSyncMessage(decoder, encoding.createEncoder(), this.doc, 'server');
    });
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'server') return;
      const encoder = encoding.createEncoder();
      syncProtocol.writeUpdate(encoder, update);
      this.pending.push(this.send(encoding.toUint8Array(encoder)));
    });
  }

  /** Opens the document: answers the server's step 1 and asks for its content with our own. */
  async open(): Promise<Ack<DocOpenValue>> {
    const answer = await this.socket.timeout(10_000).emitWithAck('doc:open', { docId: this.docId });
    if (!answer.ok) return answer;
    this.access = answer.value.access;
    const encoder = encoding.createEncoder();
    syncProtocol.readSyncMessage(
      decoding.createDecoder(new Uint8Array(answer.value.sync)),
      encoder,
      this.doc,
      'server',
    );
    if (encoding.length(encoder) > 0) this.pending.push(this.send(encoding.toUint8Array(encoder)));
    const step1 = encoding.createEncoder();
    syncProtocol.writeSyncStep1(step1, this.doc);
    const reply = await this.send(encoding.toUint8Array(step1));
    if (reply.ok && (reply.value as { reply?: Uint8Array }).reply) {
      syncProtocol.readSyncMessage(
        decoding.createDecoder(new Uint8Array((reply.value as { reply: Uint8Array }).reply)),
        encoding.createEncoder(),
        this.doc,
        'server',
      );
    }
    return answer;
  }

  /** Sends one raw sync message and returns the server's answer. */
  async send(message: Uint8Array): Promise<Ack<unknown>> {
    // A disconnected Socket.IO client would buffer the message until the timeout: say so at once.
    if (!this.socket.connected) return { ok: false, error: { code: 'internal', message: 'not connected' } };
    const answer = (await this.socket
      .timeout(10_000)
      .emitWithAck('doc:sync', { docId: this.docId, message })) as Ack<unknown>;
    this.answers.push(answer);
    return answer;
  }

  /** Waits until the server answered every update sent so far. */
  async settled(): Promise<Array<Ack<unknown>>> {
    const all = await Promise.all(this.pending);
    this.pending = [];
    return all;
  }

  /** The document as the editor keeps it: paragraphs of text in the XML fragment `default`. */
  get fragment(): Y.XmlFragment {
    return this.doc.getXmlFragment('default');
  }

  /** The plain text, one line per paragraph. */
  get text(): string {
    return this.fragment
      .toArray()
      .map((node) =>
        node instanceof Y.XmlElement
          ? node
              .toArray()
              .map((t) => String(t.toString()))
              .join('')
          : '',
      )
      .join('\n');
  }

  /** Types like {@link insert} and returns the server's answer to exactly this change. */
  typed(index: number, text: string): Promise<Ack<unknown>> {
    const before = this.pending.length;
    this.insert(index, text);
    const answer = this.pending[before];
    if (!answer) return Promise.resolve({ ok: true, value: {} });
    // Taken out of `settled`: the caller handles this one, a lost connection included.
    this.pending.splice(before, 1);
    return answer.catch(() => ({ ok: false, error: { code: 'internal', message: 'connection lost' } }) as const);
  }

  /** Types into the first paragraph (made if there is none), as the editor would. */
  insert(index: number, text: string): void {
    this.doc.transact(() => {
      let paragraph = this.fragment.get(0);
      if (!(paragraph instanceof Y.XmlElement)) {
        paragraph = new Y.XmlElement('paragraph');
        paragraph.insert(0, [new Y.XmlText()]);
        this.fragment.insert(0, [paragraph]);
      }
      const textNode = (paragraph as Y.XmlElement).get(0);
      if (textNode instanceof Y.XmlText) textNode.insert(Math.min(index, textNode.length), text);
    });
  }
}
