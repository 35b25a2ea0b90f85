/**
 * What the UDP thread (udp-thread.ts) and the main thread (udp-listener.ts) tell each other. The
 * thread owns the depot socket: it reads each datagram's header, opens the telegrams of depots whose
 * keys it holds, and seals and sends what the main thread answers. The main thread keeps everything
 * with state: the replay windows, the actors, the writes. Messages go in batches, one per turn of
 * either event loop.
 */
import type { Telegram, TelegramTypeName } from '@kis/protocol/telegram';
import type { DropOutcome } from './udp-drops.js';

/** Where a datagram came from or goes to. */
export interface Peer {
  address: string;
  port: number;
}

/** Thread → main. */
export type FromUdpThread =
  /** An authentic telegram of a depot whose keys the thread holds; the window is not checked yet. */
  | {
      kind: 'opened';
      depotId: string;
      keyId: number;
      epoch: number;
      seq: number;
      telegram: Telegram;
      from: Peer;
      receivedAt: number;
    }
  /** A datagram the thread holds no key for: the main thread looks its depot up. */
  | { kind: 'unknown'; datagram: Uint8Array; from: Peer; receivedAt: number }
  /** Datagrams dropped since the last batch: counts by reason, and one example of each. */
  | { kind: 'dropped'; counts: Partial<Record<DropOutcome, number>>; examples: DropExample[] }
  | { kind: 'bound'; port: number }
  /** The socket could not be bound: the thread ends. */
  | { kind: 'failed'; message: string }
  | { kind: 'problem'; message: string; count: number };

export interface DropExample {
  reason: DropOutcome;
  from: Peer;
  depotId?: string;
}

/** Main → thread. */
export type ToUdpThread =
  /** A depot's keys from now on; none: the depot is gone. */
  | { kind: 'keys'; depotId: string; keys: Array<[number, Uint8Array]> }
  /** Seal a telegram to a depot with one of its keys and send it. */
  | {
      kind: 'send';
      to: Peer;
      depotId: string;
      keyId: number;
      name: TelegramTypeName;
      epoch: number;
      seq: number;
      payload: Record<string, unknown>;
    }
  | { kind: 'close' };
