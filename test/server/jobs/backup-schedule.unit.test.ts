import { describe, expect, it } from 'vitest';
import { msUntil } from '../../../server/src/jobs/backups.js';

describe('daily backup time', () => {
  it('waits until the next 03:30 in Berlin, today or tomorrow', () => {
    // 01:00 UTC on 25 Nov is 02:00 in Berlin (CET): 1 h 30 min to go.
    expect(msUntil('03:30', 'Europe/Berlin', new Date('2026-11-25T01:00:00Z'))).toBe(90 * 60_000);
    // Just past it: the next day.
    expect(msUntil('03:30', 'Europe/Berlin', new Date('2026-11-25T02:31:00Z'))).toBe((24 * 60 - 1) * 60_000);
  });

  it('follows summer time', () => {
    // 01:00 UTC on 1 July is 03:00 in Berlin (CEST): 30 minutes to go.
    expect(msUntil('03:30', 'Europe/Berlin', new Date('2026-07-01T01:00:00Z'))).toBe(30 * 60_000);
  });
});
