import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { csvStream } from '../../../server/src/reports/csv.js';

const columns = [
  { key: 'name' as const, header: 'Name', width: 1 },
  { key: 'note' as const, header: '=Notiz', width: 1 },
];

describe('a CSV export stream', () => {
  it('sends the byte-order mark and the heading before the first row is found, and stops reading when cancelled', async () => {
    let release: () => void = () => undefined;
    let finished = false;
    let read = 0;
    async function* rows(): AsyncGenerator<{ name: string; note: string }> {
      try {
        // The database still looking: no row yet.
        await new Promise<void>((resolve) => (release = resolve));
        yield { name: 'Müller', note: '+1' };
        for (;;) yield { name: 'Meyer', note: `${(read += 1)}` };
      } finally {
        finished = true;
      }
    }
    const stream = csvStream(columns, rows(), ';');
    const [first] = (await once(stream, 'data')) as [Buffer];
    expect(first.toString()).toBe("\ufeffName;'=Notiz\r\n");
    release();
    const [second] = (await once(stream, 'data')) as [Buffer];
    expect(second.toString()).toMatch(/^Müller;'\+1\r\n/);
    stream.pause();
    // The reader goes away (a cancelled download): the rows' generator is closed, its cursor with it.
    stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(finished).toBe(true);
    const after = read;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(read).toBe(after);
  });
});
