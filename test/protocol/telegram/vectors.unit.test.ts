import { describe, expect, it } from 'vitest';
import { Direction, openTelegram, parseHeader, sealTelegram } from '../../../protocol/src/telegram/index.js';

/** The spec's key: the bytes 00 01 02 … 1f. */
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);

const HEARTBEAT =
  '4b44010200000000000000420100000000070000000184533b16cd0336b3e195751cda8f788d740f6f96d85ac82de380ac40c9e0151b69083796efcff0560755a1d5ac69210992968a9a2595e1134acbe51bfb29479eade50ffd32280416fe6c45b605f9c864e22db4098090efb3427bdf9682683f819fd47460c8';
const EVENT =
  '4b440103000000000000004201000000000700000002d1de41cac4fc5ca0b626d17478ca08ad75bede3775fc8f0c072d88b93472f88d1956176aa0cf80f195d9b3aa5f06c37965e89ae936643b2da48a9f511a56c58ce80c21';
const ACK =
  '4b440181000000000000004201000000000300000009a89c1c23f16b619fdec99a1215d34a706837b4e80530fc83d5bc281a8b4c03e9cb7ca4e95288573438ac';

const heartbeatPayload = {
  up: 3600,
  door: 'closed',
  comps: [
    { n: 1, key: true, locked: true },
    { n: 2, key: false, locked: true },
  ],
  power: 'mains',
  batt: 100,
};
const eventPayload = { ev: 1001, t: 1767225600000, kind: 'key_removed', comp: 2, pin: 'p-7' };
const ackPayload = { ack: 2, ev: [1001], t: 1767225600500 };

function decode(hex: string, dir: (typeof Direction)[keyof typeof Direction]) {
  const datagram = Buffer.from(hex, 'hex');
  const parsed = parseHeader(datagram);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { header: parsed.header, opened: openTelegram(KEY, dir, parsed.header, datagram) };
}

describe('depot protocol test vectors', () => {
  it('opens the HEARTBEAT vector', () => {
    const { header, opened } = decode(HEARTBEAT, Direction.DEPOT_TO_SERVER);
    expect(header).toEqual({ type: 0x02, depotId: 0x42n, keyId: 1, epoch: 7, seq: 1 });
    expect(opened).toEqual({ ok: true, telegram: { name: 'HEARTBEAT', payload: heartbeatPayload } });
  });

  it('opens the EVENT vector', () => {
    const { header, opened } = decode(EVENT, Direction.DEPOT_TO_SERVER);
    expect(header).toMatchObject({ type: 0x03, epoch: 7, seq: 2 });
    expect(opened).toEqual({ ok: true, telegram: { name: 'EVENT', payload: eventPayload } });
  });

  it('opens the ACK vector', () => {
    const { header, opened } = decode(ACK, Direction.SERVER_TO_DEPOT);
    expect(header).toMatchObject({ type: 0x81, epoch: 3, seq: 9 });
    expect(opened).toEqual({ ok: true, telegram: { name: 'ACK', payload: ackPayload } });
  });

  it('seals each vector byte for byte', () => {
    const base = { depotId: 0x42n, keyId: 1 };
    expect(
      sealTelegram(
        KEY,
        Direction.DEPOT_TO_SERVER,
        { ...base, name: 'HEARTBEAT', epoch: 7, seq: 1 },
        heartbeatPayload,
      ).toString('hex'),
    ).toBe(HEARTBEAT);
    expect(
      sealTelegram(KEY, Direction.DEPOT_TO_SERVER, { ...base, name: 'EVENT', epoch: 7, seq: 2 }, eventPayload).toString(
        'hex',
      ),
    ).toBe(EVENT);
    expect(
      sealTelegram(KEY, Direction.SERVER_TO_DEPOT, { ...base, name: 'ACK', epoch: 3, seq: 9 }, ackPayload).toString(
        'hex',
      ),
    ).toBe(ACK);
  });
});
