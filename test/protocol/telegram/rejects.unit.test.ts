import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Direction,
  encodeHeader,
  openTelegram,
  parseHeader,
  sealTelegram,
  type TelegramHeader,
} from '../../../protocol/src/telegram/index.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const HELLO = { fw: '1.2.0', hw: 'KD-8', comps: 8, reason: 'power_on' };
const base = { depotId: 0x42n, keyId: 1, epoch: 5, seq: 1 };

/** Seals arbitrary plaintext bytes, as a hostile or broken depot could. */
function sealRaw(header: TelegramHeader, plaintext: Uint8Array): Buffer {
  const head = encodeHeader(header);
  const nonce = Buffer.alloc(12);
  nonce[0] = Direction.DEPOT_TO_SERVER;
  nonce.writeUInt32BE(header.epoch, 4);
  nonce.writeUInt32BE(header.seq, 8);
  const cipher = createCipheriv('aes-256-gcm', KEY, nonce);
  cipher.setAAD(head);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([head, body, cipher.getAuthTag()]);
}

function openAsServer(datagram: Uint8Array, key = KEY) {
  const parsed = parseHeader(datagram);
  if (!parsed.ok) return { ok: false as const, reason: parsed.reason };
  return openTelegram(key, Direction.DEPOT_TO_SERVER, parsed.header, datagram);
}

describe('telegrams the server must drop', () => {
  const good = sealTelegram(KEY, Direction.DEPOT_TO_SERVER, { ...base, name: 'HELLO' }, HELLO);

  it('accepts the well-formed one', () => {
    expect(openAsServer(good)).toEqual({ ok: true, telegram: { name: 'HELLO', payload: HELLO } });
  });

  it('drops header faults by reason', () => {
    const variant = (offset: number, value: number) => {
      const copy = Buffer.from(good);
      copy[offset] = value;
      return copy;
    };
    expect(openAsServer(variant(0, 0x4c))).toEqual({ ok: false, reason: 'bad_magic' });
    expect(openAsServer(variant(2, 2))).toEqual({ ok: false, reason: 'bad_version' });
    expect(openAsServer(variant(3, 0x7f))).toEqual({ ok: false, reason: 'unknown_type' });
    expect(openAsServer(variant(13, 1))).toEqual({ ok: false, reason: 'bad_flags' });
    expect(openAsServer(good.subarray(0, 37))).toEqual({ ok: false, reason: 'too_short' });
    expect(openAsServer(Buffer.concat([good, Buffer.alloc(1200)]))).toEqual({ ok: false, reason: 'too_long' });
  });

  it('drops a tampered body, header or tag, a truncated telegram and the wrong key', () => {
    for (const offset of [5, 14, 22, good.length - 1]) {
      const copy = Buffer.from(good);
      copy[offset] = (copy[offset] ?? 0) ^ 0x01;
      expect(openAsServer(copy)).toMatchObject({ ok: false });
    }
    expect(openAsServer(good.subarray(0, good.length - 1))).toEqual({ ok: false, reason: 'bad_tag' });
    expect(openAsServer(good, OTHER_KEY)).toEqual({ ok: false, reason: 'bad_tag' });
  });

  it('drops a server-to-depot type arriving from a depot', () => {
    const ack = sealTelegram(KEY, Direction.SERVER_TO_DEPOT, { ...base, name: 'ACK' }, { ack: 1, t: 1 });
    expect(openAsServer(ack)).toEqual({ ok: false, reason: 'wrong_direction' });
  });

  it('accepts indefinite and non-preferred CBOR but no tags, undefined, duplicates or trailing bytes', () => {
    const header = { ...base, type: 0x01 as const };
    // {"fw":"1","hw":"2","comps":3} with an indefinite-length map and a one-byte length for 3.
    const indefinite = Buffer.from('bf62667761316268776132' + '65636f6d7073' + '1803' + 'ff', 'hex');
    expect(openAsServer(sealRaw(header, indefinite))).toMatchObject({
      ok: true,
      telegram: { payload: { fw: '1', hw: '2', comps: 3 } },
    });
    const tagged = Buffer.from('a3626677613162687761326563' + '6f6d7073' + 'c103', 'hex');
    expect(openAsServer(sealRaw(header, tagged))).toEqual({ ok: false, reason: 'bad_cbor' });
    const duplicate = Buffer.from('a3626677613162667761326563' + '6f6d707303', 'hex');
    expect(openAsServer(sealRaw(header, duplicate))).toEqual({ ok: false, reason: 'bad_cbor' });
    const trailing = Buffer.concat([indefinite, Buffer.from('00', 'hex')]);
    expect(openAsServer(sealRaw(header, trailing))).toEqual({ ok: false, reason: 'bad_cbor' });
    expect(openAsServer(sealRaw(header, Buffer.from('f7', 'hex')))).toEqual({ ok: false, reason: 'bad_cbor' });
    expect(openAsServer(sealRaw(header, Buffer.from('83010203', 'hex')))).toEqual({ ok: false, reason: 'bad_cbor' });
  });

  it('drops a payload that does not fit its type, and ignores unknown keys', () => {
    const header = { ...base, type: 0x01 as const };
    // HELLO without fw, and with a string where a number belongs.
    expect(openAsServer(sealRaw(header, Buffer.from('a2626877613265636f6d707303', 'hex')))).toEqual({
      ok: false,
      reason: 'bad_payload',
    });
    const extra = sealRaw(header, Buffer.from('a462667761316268776132' + '65636f6d707303' + '6378797a01', 'hex'));
    expect(openAsServer(extra)).toEqual({
      ok: true,
      telegram: { name: 'HELLO', payload: { fw: '1', hw: '2', comps: 3 } },
    });
  });
});
