/**
 * Benchmark: shared texts (area 3) with many editors on one document. N simulated editors each type
 * a short marker into the document's one paragraph every few hundred milliseconds; measured are
 * the propagation latency (a local insert until each OTHER editor has applied it), the time until
 * the sender's update is confirmed, the server's CPU time per update, throughput and resident
 * memory. Beside KIS, the same editors do the same work against Hocuspocus 3 (the reference Yjs
 * server, in memory, no extensions) in its own process on the same machine in the same run. At
 * the end every editor's document and a late joiner's must be identical. Prints one JSON object.
 *
 *   npm run bench:documents [-- --editors 20 --seconds 20 --interval-ms 200 --runs 1]
 *
 * Talks to 127.0.0.1 only. KIS stores every update in the database before it relays it; Hocuspocus
 * keeps them in memory only: the JSON says so beside the numbers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import type { Ack, ClientToServerEvents, DocSyncValue, ServerToClientEvents } from '@kis/protocol/realtime';
import { provisionDatabase } from '../../server/src/db/provision.js';
import { ROOT, adminSession, log, startServer, stats, stopServer, type RunningServer } from './common.js';
import { CLOCK_TICKS, rssMib, watchPeak } from './process-watch.js';

const { values } = parseArgs({
  options: {
    editors: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '200' },
    'warmup-seconds': { type: 'string', default: '5' },
    runs: { type: 'string', default: '1' },
  },
});
const EDITORS = Number(values.editors);
const SECONDS = Number(values.seconds);
const INTERVAL_MS = Number(values['interval-ms']);
const WARMUP_SECONDS = Number(values['warmup-seconds']);
const RUNS = Number(values.runs);
if (!Number.isInteger(EDITORS) || EDITORS < 2) throw new Error('--editors must be a whole number, at least 2');
if (!(SECONDS > 0)) throw new Error('--seconds must be more than 0');
if (!(WARMUP_SECONDS >= 0)) throw new Error('--warmup-seconds must be 0 or more');
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a whole number, at least 1');
// KIS refuses more than 30 sync messages a second per socket on average (documents.ts): a faster
// editor would measure the rate limit, not the document path.
if (!(INTERVAL_MS >= 40)) throw new Error('--interval-ms must be at least 40 (KIS allows 30 updates/s per socket)');

/** How long the editors may take after the window to see every update, before the rest counts as lost. */
const DRAIN_TIMEOUT_MS = 30_000;
/** What every editor types: `[editor.sequence]`, unique in the document, found again in updates. */
const MARKER = /\[\d+\.\d+\]/g;
/** The transaction origin of everything that came from the server. */
const REMOTE = Symbol('remote');
/** How long the server's idle CPU draw is measured, with the editors connected, before the warm-up. */
const IDLE_MS = 3000;

/** What the server said to one update: stored/applied, or refused and why. */
type Outcome = { ok: true } | { ok: false; reason: string };

/** Tells the run that an editor applied an update from the server (at the moment it did). */
type OnArrival = (update: Uint8Array, receiver: number) => void;

/**
 * One simulated editor: a Y.Doc holding the document as the web editor does (paragraphs of text in
 * the XML fragment `default`). Local changes go to the server through {@link transmit}; what the
 * server sends is applied with the origin {@link REMOTE} and reported to the run.
 */
abstract class Editor {
  readonly doc = new Y.Doc();
  /** Sequence number of this editor's next marker. */
  next = 0;
  private outgoing: Promise<Outcome> | undefined;

  constructor(
    readonly index: number,
    onArrival: OnArrival,
  ) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE) onArrival(update, index);
      else this.outgoing = this.transmit(update);
    });
  }

  /** Sends a local update to the server; resolves once the server confirmed (or refused) it. */
  protected abstract transmit(update: Uint8Array): Promise<Outcome>;

  abstract close(): void;

  /** Applies a sync message from the server; returns the answer (step 2 to a step 1), if any. */
  protected receive(
    message: Uint8Array,
    prefix?: (encoder: encoding.Encoder) => void,
  ): {
    type: number;
    answer: Uint8Array | undefined;
  } {
    const encoder = encoding.createEncoder();
    prefix?.(encoder);
    const before = encoding.length(encoder);
    const type = syncProtocol.readSyncMessage(decoding.createDecoder(message), encoder, this.doc, REMOTE);
    return { type, answer: encoding.length(encoder) > before ? encoding.toUint8Array(encoder) : undefined };
  }

  /** Makes the document's one paragraph (the first editor does, before the others join). */
  createParagraph(): Promise<Outcome> {
    return this.change(() => {
      const paragraph = new Y.XmlElement('paragraph');
      paragraph.insert(0, [new Y.XmlText()]);
      this.fragment.insert(0, [paragraph]);
    });
  }

  /** Types `text` at the end of the paragraph, as a person at the end of a line would. */
  insert(text: string): Promise<Outcome> {
    return this.change(() => {
      const target = this.paragraphText();
      target.insert(target.length, text);
    });
  }

  /** The whole document as XML: equal on every editor once they converged. */
  get content(): string {
    return this.fragment.toString();
  }

  private get fragment(): Y.XmlFragment {
    return this.doc.getXmlFragment('default');
  }

  private paragraphText(): Y.XmlText {
    const paragraph = this.fragment.get(0);
    const text = paragraph instanceof Y.XmlElement ? paragraph.get(0) : undefined;
    if (!(text instanceof Y.XmlText)) throw new Error(`editor ${this.index} has no paragraph to type into`);
    return text;
  }

  private change(edit: () => void): Promise<Outcome> {
    this.doc.transact(edit);
    const sent = this.outgoing;
    this.outgoing = undefined;
    if (!sent) throw new Error('a local change made no update');
    return sent;
  }
}

type KisSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** An editor as the portal's browser runs one: y-protocols sync messages over Socket.IO (doc:*). */
class KisEditor extends Editor {
  private constructor(
    private readonly socket: KisSocket,
    private readonly docId: string,
    index: number,
    onArrival: OnArrival,
  ) {
    super(index, onArrival);
    socket.on('doc:sync', ({ docId: id, message }) => {
      if (id === this.docId) this.receive(new Uint8Array(message));
    });
  }

  /** Connects a socket with the session, opens the document and syncs both ways. */
  static async connect(
    url: string,
    session: { cookie: string; csrfToken: string },
    docId: string,
    index: number,
    onArrival: OnArrival,
  ): Promise<KisEditor> {
    const socket: KisSocket = io(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { cookie: session.cookie },
      auth: { csrfToken: session.csrfToken, identity: 0 },
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const editor = new KisEditor(socket, docId, index, onArrival);
    const opened = await socket.timeout(10_000).emitWithAck('doc:open', { docId });
    if (!opened.ok) throw new Error(`doc:open: ${opened.error.code}`);
    // The server's step 1 is answered with what we have (nothing), our step 1 with its content.
    const { answer } = editor.receive(new Uint8Array(opened.value.sync));
    if (answer) await editor.send(answer);
    const step1 = encoding.createEncoder();
    syncProtocol.writeSyncStep1(step1, editor.doc);
    const synced = await editor.send(encoding.toUint8Array(step1));
    if (!synced.ok) throw new Error(`doc:sync step 1: ${synced.error.code}`);
    if (synced.value.reply) editor.receive(new Uint8Array(synced.value.reply));
    return editor;
  }

  private async send(message: Uint8Array): Promise<Ack<DocSyncValue>> {
    return this.socket.timeout(10_000).emitWithAck('doc:sync', { docId: this.docId, message });
  }

  protected async transmit(update: Uint8Array): Promise<Outcome> {
    const encoder = encoding.createEncoder();
    syncProtocol.writeUpdate(encoder, update);
    try {
      const answer = await this.send(encoding.toUint8Array(encoder));
      return answer.ok ? { ok: true } : { ok: false, reason: answer.error.code };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * Hocuspocus's frames, from @hocuspocus/server's `types.ts` and @hocuspocus/common's `auth.ts`:
 * `[varString document][varUint type][payload]`.
 */
const HP = { sync: 0, awareness: 1, auth: 2, syncReply: 4, syncStatus: 8 } as const;
const HP_AUTH = { token: 0, permissionDenied: 1, authenticated: 2 } as const;

/**
 * An editor as @hocuspocus/provider runs one, over a bare WebSocket: an Auth message with a token
 * first (required even without an onAuthenticate hook: the server queues everything else until
 * it), then y-protocols sync. The server answers every step 2 and update with a SyncStatus, in order.
 */
class HocuspocusEditor extends Editor {
  /** Who waits for the next SyncStatus: one entry per step 2 or update sent. */
  private readonly waiting: Array<(outcome: Outcome) => void> = [];
  private onSynced: (() => void) | undefined;
  private onDenied: ((reason: string) => void) | undefined;

  private constructor(
    private readonly ws: WebSocket,
    private readonly name: string,
    index: number,
    onArrival: OnArrival,
  ) {
    super(index, onArrival);
    ws.on('message', (data: WebSocket.RawData) => {
      // A Buffer by default (binaryType "nodebuffer"); fragments or an ArrayBuffer otherwise.
      this.handle(Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data));
    });
  }

  /** Connects, authenticates with an empty token and syncs both ways. */
  static async connect(url: string, name: string, index: number, onArrival: OnArrival): Promise<HocuspocusEditor> {
    const ws = new WebSocket(url);
    await once(ws, 'open');
    const editor = new HocuspocusEditor(ws, name, index, onArrival);
    const synced = new Promise<void>((resolve, reject) => {
      editor.onSynced = resolve;
      editor.onDenied = (reason) => reject(new Error(`Hocuspocus refused: ${reason}`));
    });
    editor.sendFrame(HP.auth, (e) => {
      encoding.writeVarUint(e, HP_AUTH.token);
      encoding.writeVarString(e, '');
    });
    editor.sendFrame(HP.sync, (e) => syncProtocol.writeSyncStep1(e, editor.doc));
    await synced;
    return editor;
  }

  private sendFrame(type: number, write: (encoder: encoding.Encoder) => void): void {
    const encoder = encoding.createEncoder();
    encoding.writeVarString(encoder, this.name);
    encoding.writeVarUint(encoder, type);
    write(encoder);
    this.ws.send(encoding.toUint8Array(encoder));
  }

  private handle(data: Uint8Array): void {
    const decoder = decoding.createDecoder(data);
    if (decoding.readVarString(decoder) !== this.name) return;
    const type = decoding.readVarUint(decoder);
    if (type === HP.sync || type === HP.syncReply) {
      const { type: syncType, answer } = this.receive(decoding.readTailAsUint8Array(decoder), (e) => {
        encoding.writeVarString(e, this.name);
        encoding.writeVarUint(e, HP.sync);
      });
      if (answer) {
        // Our step 2 to the server's step 1: the server confirms it like an update.
        this.waiting.push(() => undefined);
        this.ws.send(answer);
      }
      if (syncType === syncProtocol.messageYjsSyncStep2) this.onSynced?.();
    } else if (type === HP.syncStatus) {
      const saved = decoding.readVarUint(decoder) === 1;
      this.waiting.shift()?.(saved ? { ok: true } : { ok: false, reason: 'not saved' });
    } else if (type === HP.auth && decoding.readVarUint(decoder) === HP_AUTH.permissionDenied) {
      this.onDenied?.(decoding.readVarString(decoder));
    }
    // Awareness and the Authenticated answer need nothing: the queued step 1 follows it.
  }

  protected transmit(update: Uint8Array): Promise<Outcome> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.sendFrame(HP.sync, (e) => syncProtocol.writeUpdate(e, update));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** One marker typed: when, whether in the measured window, and who has it so far. */
interface Sent {
  at: number;
  from: number;
  measured: boolean;
  arrivals: number;
  outcome: Outcome | undefined;
}

/** Everything the editors of one run did and saw. */
class Tally {
  readonly latencies: number[] = [];
  readonly confirms: number[] = [];
  measuring = false;
  sent = 0;
  accepted = 0;
  measuredSent = 0;
  measuredAccepted = 0;
  readonly refusals: Record<string, number> = {};
  private readonly pending = new Map<string, Sent>();

  constructor(private readonly receivers: number) {}

  /** Lets an editor type its next marker now. */
  type(editor: Editor): void {
    const marker = `[${editor.index}.${editor.next++}]`;
    const entry: Sent = {
      at: performance.now(),
      from: editor.index,
      measured: this.measuring,
      arrivals: 0,
      outcome: undefined,
    };
    this.pending.set(marker, entry);
    this.sent++;
    if (entry.measured) this.measuredSent++;
    void editor.insert(marker).then((outcome) => {
      entry.outcome = outcome;
      if (outcome.ok) {
        this.accepted++;
        if (entry.measured) {
          this.measuredAccepted++;
          this.confirms.push(performance.now() - entry.at);
        }
      } else {
        this.refusals[outcome.reason] = (this.refusals[outcome.reason] ?? 0) + 1;
      }
      this.settle(marker, entry);
    });
  }

  /** An editor applied an update: every marker in it has arrived there now. */
  readonly arrived: OnArrival = (update, receiver) => {
    const now = performance.now();
    for (const struct of Y.decodeUpdate(update).structs) {
      if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentString)) continue;
      for (const [marker] of struct.content.str.matchAll(MARKER)) {
        const entry = this.pending.get(marker);
        if (!entry || entry.from === receiver) continue;
        entry.arrivals++;
        if (entry.measured) this.latencies.push(now - entry.at);
        this.settle(marker, entry);
      }
    }
  };

  private settle(marker: string, entry: Sent): void {
    if (!entry.outcome) return;
    // A refused update reaches nobody; an accepted one is done when all the others have it.
    if (!entry.outcome.ok || entry.arrivals >= this.receivers) this.pending.delete(marker);
  }

  /** Waits until every update is confirmed and everywhere, or the time is up; the deliveries missing. */
  async drained(timeoutMs: number): Promise<number> {
    const until = performance.now() + timeoutMs;
    while (this.pending.size > 0 && performance.now() < until) await sleep(10);
    let missing = 0;
    for (const entry of this.pending.values()) missing += this.receivers - entry.arrivals;
    return missing;
  }
}

/** A server under test: how to get a fresh document and an editor on it. */
interface Target {
  name: 'kis' | 'hocuspocus';
  serverPid: number;
  databasePid: number | undefined;
  newDocument(run: number): Promise<string>;
  open(doc: string, index: number, onArrival: OnArrival): Promise<Editor>;
}

/** CPU time of a process so far, in seconds. */
interface CpuTimes {
  user: number;
  system: number;
}

/** CPU time of a process so far, from /proc/<pid>/stat; none without a process. */
async function cpuTimes(pid: number | undefined): Promise<CpuTimes> {
  if (!pid) return { user: 0, system: 0 };
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name's ")": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLOCK_TICKS, system: Number(fields[12]) / CLOCK_TICKS };
}

/**
 * Every editor types a marker every {@link INTERVAL_MS} for `ms`, the editors' beats spread evenly
 * over the interval. Nobody waits for an answer before typing on, as nobody does at a keyboard.
 */
async function drive(editors: Editor[], tally: Tally, ms: number): Promise<void> {
  const start = performance.now();
  await Promise.all(
    editors.map(async (editor, i) => {
      const offset = (i * INTERVAL_MS) / editors.length;
      for (let beat = 0; offset + beat * INTERVAL_MS < ms; beat++) {
        const due = start + offset + beat * INTERVAL_MS;
        await sleep(Math.max(0, due - performance.now()));
        tally.type(editor);
      }
    }),
  );
}

/** Percentiles and the largest value of a sample, in ms. */
function latency(samples: number[]): ReturnType<typeof stats> & { max: number; samples: number } {
  const max = samples.reduce((a, b) => Math.max(a, b), 0);
  return { ...stats(samples), max: Math.round(max * 10) / 10, samples: samples.length };
}

/** A process's CPU time over the window and the drain, and its draw before, with nobody typing. */
interface CpuUse {
  secondsTotal: number;
  /** The part spent in the kernel (socket writes and reads, mostly). */
  systemSeconds: number;
  usPerUpdate: number;
  percentOfOneCore: number;
  idlePercentOfOneCore: number;
}

/** What one run of one server measured. */
interface RunResult {
  propagationMs: ReturnType<typeof latency>;
  confirmMs: ReturnType<typeof latency>;
  updatesSent: number;
  updatesAccepted: number;
  refusals: Record<string, number>;
  deliveriesMissing: number;
  updatesPerSecond: number;
  /** From the end of the window until every update was confirmed and everywhere. */
  drainMs: number;
  serverCpu: CpuUse;
  databaseCpu: CpuUse | null;
  serverRssMiB: { peak: number; after: number };
  databaseRssMiB: { peak: number; after: number } | null;
  /** This benchmark's own process (all editors), so a saturated client would show. */
  clientCpuPercentOfOneCore: number;
  converged: boolean;
  markersInDocument: number;
  documentChars: number;
}

/** N editors on one fresh document: warm-up, the measured window, drain, convergence. */
async function measure(target: Target, run: number): Promise<RunResult> {
  const doc = await target.newDocument(run);
  const tally = new Tally(EDITORS - 1);
  const cpuNow = (): Promise<[CpuTimes, CpuTimes]> =>
    Promise.all([cpuTimes(target.serverPid), cpuTimes(target.databasePid)]);
  const seconds = (from: CpuTimes, to: CpuTimes): number => to.user + to.system - from.user - from.system;
  log(`${target.name} run ${run}: ${EDITORS} editors join …`);
  const first = await target.open(doc, 0, tally.arrived);
  const editors: Editor[] = [first];
  try {
    const made = await first.createParagraph();
    if (!made.ok) throw new Error(`${target.name} refused the paragraph: ${made.reason}`);
    editors.push(
      ...(await Promise.all(Array.from({ length: EDITORS - 1 }, (_, i) => target.open(doc, i + 1, tally.arrived)))),
    );
    // What the processes burn with everyone connected and nobody typing (timers, pings, GC).
    const idle0 = await cpuNow();
    await sleep(IDLE_MS);
    const idle1 = await cpuNow();
    const idlePercent = (i: 0 | 1): number => Math.round((seconds(idle0[i], idle1[i]) / (IDLE_MS / 1000)) * 1000) / 10;

    log(`${target.name} run ${run}: warm-up ${WARMUP_SECONDS} s …`);
    await drive(editors, tally, WARMUP_SECONDS * 1000);

    log(`${target.name} run ${run}: measuring ${SECONDS} s …`);
    tally.measuring = true;
    const serverRss = watchPeak(target.serverPid, 250);
    const databaseRss = target.databasePid ? watchPeak(target.databasePid, 250) : undefined;
    const cpu0 = await cpuNow();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    await drive(editors, tally, SECONDS * 1000);
    tally.measuring = false;
    const windowEnd = performance.now();
    const deliveriesMissing = await tally.drained(DRAIN_TIMEOUT_MS);
    const t1 = performance.now();
    const client = process.cpuUsage(client0);
    const cpu1 = await cpuNow();
    const peaks = await Promise.all([serverRss.stop(), databaseRss?.stop()]);
    const elapsed = (t1 - t0) / 1000;
    const cpuOf = (i: 0 | 1): RunResult['serverCpu'] => {
      const total = seconds(cpu0[i], cpu1[i]);
      return {
        secondsTotal: Math.round(total * 100) / 100,
        systemSeconds: Math.round((cpu1[i].system - cpu0[i].system) * 100) / 100,
        usPerUpdate: Math.round((total * 1e6) / Math.max(1, tally.measuredAccepted)),
        percentOfOneCore: Math.round((total / elapsed) * 1000) / 10,
        idlePercentOfOneCore: idlePercent(i),
      };
    };

    // Everyone has everything (drained): all documents, and a late joiner's, must be the same.
    const late = await target.open(doc, EDITORS, () => undefined);
    editors.push(late);
    const reference = late.content;
    const converged = editors.every((e) => e.content === reference);
    const markers = reference.match(MARKER)?.length ?? 0;

    const result: RunResult = {
      propagationMs: latency(tally.latencies),
      confirmMs: latency(tally.confirms),
      updatesSent: tally.measuredSent,
      updatesAccepted: tally.measuredAccepted,
      refusals: tally.refusals,
      deliveriesMissing,
      updatesPerSecond: Math.round((tally.measuredAccepted / ((windowEnd - t0) / 1000)) * 10) / 10,
      drainMs: Math.round(t1 - windowEnd),
      serverCpu: cpuOf(0),
      databaseCpu: target.databasePid ? cpuOf(1) : null,
      serverRssMiB: { peak: peaks[0], after: await rssMib(target.serverPid) },
      databaseRssMiB:
        target.databasePid && peaks[1] !== undefined
          ? { peak: peaks[1], after: await rssMib(target.databasePid) }
          : null,
      clientCpuPercentOfOneCore: Math.round(((client.user + client.system) / 1e6 / elapsed) * 1000) / 10,
      converged: converged && markers === tally.accepted,
      markersInDocument: markers,
      documentChars: reference.length,
    };
    log(
      `  propagation ${JSON.stringify(result.propagationMs)} ms; confirm ${JSON.stringify(result.confirmMs)} ms; ` +
        `${result.updatesPerSecond} updates/s; server CPU ${result.serverCpu.usPerUpdate} µs/update` +
        (result.databaseCpu ? `, database ${result.databaseCpu.usPerUpdate} µs/update` : '') +
        `; converged ${result.converged}`,
    );
    return result;
  } finally {
    for (const editor of editors) editor.close();
  }
}

/** The median over runs of every number in the results (with one run: that run). */
function summarize(results: RunResult[]): unknown {
  const merge = (items: unknown[]): unknown => {
    const [head] = items;
    if (typeof head === 'number') return stats(items as number[]).median;
    if (typeof head === 'boolean') return items.every(Boolean);
    if (head && typeof head === 'object') {
      const keys = new Set(items.flatMap((i) => Object.keys(i as object)));
      return Object.fromEntries(
        [...keys].map((k) => [k, merge(items.map((i) => (i as Record<string, unknown>)[k] ?? 0))]),
      );
    }
    return head ?? null;
  };
  return RUNS === 1 ? results[0] : { ...(merge(results) as object), runs: results };
}

/**
 * Hocuspocus in its own Node process, so that its CPU and memory are its own: in memory, no
 * extensions, on a free port of 127.0.0.1. SIGTERM makes it close its connections and exit.
 */
async function startHocuspocus(): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { Server } from '@hocuspocus/server';
       const server = new Server({ port: 0, address: '127.0.0.1', quiet: true });
       await server.listen();
       process.stdout.write(String(server.address.port) + '\\n');`,
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (c: Buffer) => resolve(Number(c.toString())));
    child.once('exit', (code) => reject(new Error(`Hocuspocus exited with ${code}`)));
  });
  return { port, child };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

async function main(): Promise<void> {
  const loadAtStart = Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
  const dbDir = await mkdtemp(path.join(os.tmpdir(), 'kis-bench-db-'));
  const db = await provisionDatabase({ dataDir: dbDir, mongodbUri: process.env.MONGODB_URI, only: 'ferretdb' });
  const mongoBase = db.uri.replace(/\/[^/]*(\?.*)?$/, '/');
  let server: RunningServer | undefined;
  let hocuspocus: { port: number; child: ChildProcess } | undefined;
  // Ctrl-C or a kill stops the children too, not only an error.
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the servers …`);
    void Promise.allSettled([
      server ? stopServer(server) : undefined,
      hocuspocus ? stopChild(hocuspocus.child) : undefined,
    ])
      .then(() => db.stop())
      .then(() => rm(dbDir, { recursive: true, force: true }))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log('starting KIS and Hocuspocus …');
    server = await startServer(mongoBase, {});
    const kisServer = server;
    hocuspocus = await startHocuspocus();
    const hp = hocuspocus;
    const hocuspocusVersion = (
      JSON.parse(await readFile(path.join(ROOT, 'node_modules/@hocuspocus/server/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    const session = await adminSession(kisServer);

    const kis: Target = {
      name: 'kis',
      serverPid: kisServer.child.pid ?? 0,
      databasePid: db.pid,
      async newDocument(run) {
        const res = await fetch(`${kisServer.url}/api/documents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', cookie: session.cookie, 'x-csrf-token': session.csrfToken },
          body: JSON.stringify({ title: `Benchmark ${run}` }),
        });
        if (!res.ok) throw new Error(`POST /api/documents: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { id: string }).id;
      },
      open: (docId, index, onArrival) => KisEditor.connect(kisServer.url, session, docId, index, onArrival),
    };
    const reference: Target = {
      name: 'hocuspocus',
      serverPid: hp.child.pid ?? 0,
      databasePid: undefined,
      newDocument: async (run) => `benchmark-${run}`,
      open: (name, index, onArrival) => HocuspocusEditor.connect(`ws://127.0.0.1:${hp.port}/`, name, index, onArrival),
    };

    const results: Record<Target['name'], RunResult[]> = { kis: [], hocuspocus: [] };
    for (let run = 1; run <= RUNS; run++) {
      // Alternate who goes first, so that neither always meets a warmer or cooler machine.
      const order = run % 2 === 1 ? [kis, reference] : [reference, kis];
      for (const target of order) results[target.name].push(await measure(target, run));
    }

    const median = (xs: number[]): number => stats(xs).median;
    const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 10) / 10 : null);
    const k = results.kis;
    const h = results.hocuspocus;
    const kisCpu = median(k.map((r) => r.serverCpu.usPerUpdate));
    const kisDbCpu = median(k.map((r) => r.databaseCpu?.usPerUpdate ?? 0));
    const hpCpu = median(h.map((r) => r.serverCpu.usPerUpdate));
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'documents',
          machine: {
            cpus: os.cpus().length,
            node: process.version,
            clockTicksPerSecond: CLOCK_TICKS,
            // Other work on the machine competes with the servers for the same cores.
            loadAverage1mAtStart: loadAtStart,
          },
          database: db.kind,
          workload: {
            what:
              `${EDITORS} editors on one document, each typing a marker like "[7.123]" at the end of its one ` +
              `paragraph every ${INTERVAL_MS} ms (beats spread over the interval), ${WARMUP_SECONDS} s warm-up, ` +
              `then ${SECONDS} s measured; propagation = local insert until each of the other ${EDITORS - 1} ` +
              'editors has applied it (all editors in this one process); confirm = until the sender is told ' +
              'the update is accepted; server CPU = utime+stime from /proc during the window and the drain ' +
              'after it, divided by the updates accepted in the window; idlePercentOfOneCore = the same ' +
              'process with every editor connected and nobody typing, 3 s before the warm-up',
            editors: EDITORS,
            seconds: SECONDS,
            intervalMs: INTERVAL_MS,
            warmupSeconds: WARMUP_SECONDS,
            offeredUpdatesPerSecond: Math.round((EDITORS * 1000) / INTERVAL_MS),
            runs: RUNS,
            sessions:
              `KIS: one admin session (one login) shared by all ${EDITORS} sockets, each its own ` +
              'connection with its own rate limit. Hocuspocus: no onAuthenticate hook, an empty token',
          },
          kis: {
            what:
              'Socket.IO doc:sync → session re-check → schema check → insert into the database (FerretDB, ' +
              'durable) → apply → relay to the room → ack; every update is stored before anyone sees it, ' +
              'the state compacted every 200 updates. Server and database are separate processes, their ' +
              'CPU reported apart',
            ...(summarize(k) as object),
          },
          hocuspocus: {
            what:
              `@hocuspocus/server ${hocuspocusVersion} in its own Node process, no extensions: y-protocols ` +
              'over a bare WebSocket, applied in memory and broadcast at once (to the sender too), then ' +
              'SyncStatus to the sender; nothing is stored, checked or rate-limited',
            version: hocuspocusVersion,
            ...(summarize(h) as object),
          },
          kisToHocuspocus: {
            propagationMedian: ratio(
              median(k.map((r) => r.propagationMs.median)),
              median(h.map((r) => r.propagationMs.median)),
            ),
            propagationP99: ratio(median(k.map((r) => r.propagationMs.p99)), median(h.map((r) => r.propagationMs.p99))),
            serverCpuPerUpdate: ratio(kisCpu, hpCpu),
            serverAndDatabaseCpuPerUpdate: ratio(kisCpu + kisDbCpu, hpCpu),
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (hocuspocus) await stopChild(hocuspocus.child);
    if (server) await stopServer(server);
    await db.stop();
    await rm(dbDir, { recursive: true, force: true });
  }
}

await main();
