import { describe, expect, it } from 'vitest';
import { EndedSessions } from '../../../server/src/identity/ended-sessions.js';

describe('sessions ended in this process', () => {
  it('says ended to a read that began before the end was written', () => {
    const ended = new EndedSessions();
    const read = ended.beginRead();
    ended.ended('s1');
    ended.endWritten('s1');
    expect(ended.isEnded('s1')).toBe(true);
    ended.endRead(read);
    // Every read from now on finds the end in the database.
    expect(ended.size).toBe(0);
  });

  it('keeps an end for a read that began after the end but before its write', () => {
    const ended = new EndedSessions();
    ended.ended('s1');
    const read = ended.beginRead();
    ended.endWritten('s1');
    const later = ended.beginRead();
    ended.endRead(later);
    expect(ended.isEnded('s1')).toBe(true);
    ended.endRead(read);
    expect(ended.isEnded('s1')).toBe(false);
  });

  it('keeps an end whose write failed for good', () => {
    const ended = new EndedSessions();
    ended.ended('s1');
    ended.endRead(ended.beginRead());
    expect(ended.isEnded('s1')).toBe(true);
    ended.ended('s2');
    ended.endWritten('s2');
    expect(ended.isEnded('s2')).toBe(false);
    expect(ended.isEnded('s1')).toBe(true);
  });
});
