import { describe, expect, it } from 'vitest';
import {
  Direction,
  encodePayload,
  openTelegram,
  parseHeader,
  sealTelegram,
} from '../../../protocol/src/telegram/index.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('server → depot commands', () => {
  it('writes a rekey key as a plain CBOR byte string, never a tagged typed array', () => {
    const newKey = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
    const bytes = Buffer.from(encodePayload({ cmd: 7, op: 'rekey', keyId: 2, key: newKey }));
    // 0x58 0x20: byte string of 32 bytes; tag 64 would be 0xd8 0x40.
    expect(bytes.includes(Buffer.from([0x58, 0x20, ...newKey]))).toBe(true);
    expect(bytes.includes(Buffer.from([0xd8, 0x40]))).toBe(false);
  });

  it('seals every op so that a depot opens it with the same arguments', () => {
    const ops = [
      {
        cmd: 1,
        op: 'set_pin',
        comp: 2,
        pin: '482913',
        pinId: 'p-7',
        from: 1767225600000,
        until: 1767312000000,
        uses: 3,
      },
      { cmd: 2, op: 'revoke_pin', pinId: 'p-7' },
      { cmd: 3, op: 'open', comp: 1 },
      { cmd: 4, op: 'config', hb: 30 },
      { cmd: 5, op: 'rekey', keyId: 2, key: new Uint8Array(32).fill(9) },
    ];
    for (const [i, payload] of ops.entries()) {
      const datagram = sealTelegram(
        KEY,
        Direction.SERVER_TO_DEPOT,
        { name: 'COMMAND', depotId: 0x42n, keyId: 1, epoch: 3, seq: i + 1 },
        payload,
      );
      const parsed = parseHeader(datagram);
      if (!parsed.ok) throw new Error(parsed.reason);
      const opened = openTelegram(KEY, Direction.SERVER_TO_DEPOT, parsed.header, datagram);
      expect(opened).toMatchObject({ ok: true, telegram: { name: 'COMMAND' } });
      if (opened.ok) expect(opened.telegram.payload).toEqual(payload);
    }
  });
});
