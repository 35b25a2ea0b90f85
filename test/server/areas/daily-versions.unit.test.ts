import { describe, expect, it } from 'vitest';
import { needsDailyVersion } from '../../../server/src/areas/documents.js';

const DAY = 24 * 3600_000;
const now = Date.parse('2026-11-25T12:00:00Z');
const at = (msAgo: number): Date => new Date(now - msAgo);

describe('the daily version of a text', () => {
  it('is made for a text that changed and never had one', () => {
    expect(needsDailyVersion({ createdAt: at(2 * DAY), updatedAt: at(3600_000) }, undefined, undefined, now)).toBe(
      true,
    );
  });

  it('is not made again within a day', () => {
    expect(
      needsDailyVersion({ createdAt: at(5 * DAY), updatedAt: at(60_000) }, at(DAY - 60_000), at(DAY - 60_000), now),
    ).toBe(false);
  });

  it('is made a day after the last one when the text changed since', () => {
    expect(needsDailyVersion({ createdAt: at(5 * DAY), updatedAt: at(60_000) }, at(DAY + 1), at(DAY + 1), now)).toBe(
      true,
    );
  });

  it('is not made for a text unchanged since its newest version, even a named one', () => {
    expect(needsDailyVersion({ createdAt: at(5 * DAY), updatedAt: at(3 * DAY) }, at(2 * DAY), at(4 * DAY), now)).toBe(
      false,
    );
  });
});
