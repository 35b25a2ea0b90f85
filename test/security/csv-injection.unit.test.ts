import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { exportTable, money, type MoneyCell } from '../../server/src/reports/service.js';

/**
 * Issue 20, finding 1, for the cells the HTTP inputs cannot produce (they are trimmed on the way
 * in): a leading tab or carriage return is escaped too, and amounts stay numbers.
 */
interface Row extends Record<string, unknown> {
  note: string;
  amount: MoneyCell;
}

async function* rows(): AsyncGenerator<Row> {
  yield { note: '\t=1+2', amount: money(-1250) };
  yield { note: '\r=1+2', amount: money(4711) };
  yield { note: '-12,50', amount: money(0) };
  yield { note: 'Müller', amount: money(-5) };
}

describe('CSV cells', () => {
  it('escapes a tab or CR in front of a formula, escapes text that looks like an amount, and keeps amounts numbers', async () => {
    const file = exportTable(
      { format: 'csv', delimiter: ';', lang: 'de', tz: 'Europe/Berlin' },
      {
        name: 'test',
        title: { de: 'Test', en: 'Test' },
        filters: [],
        columns: [
          { key: 'note', header: { de: 'Notiz', en: 'Note' }, width: 1 },
          { key: 'amount', header: { de: 'Betrag', en: 'Amount' }, width: 1 },
        ],
        total: 4,
        rows: rows(),
      },
    );
    const lines = (await text(file.body)).replace(/^\uFEFF/, '').split('\r\n');
    expect(lines).toEqual([
      'Notiz;Betrag',
      "'\t=1+2;-12,50",
      // A cell with a CR in it is quoted; the quote mark still comes first inside the quotes.
      `"'\r=1+2";47,11`,
      "'-12,50;0,00",
      'Müller;-0,05',
      '',
    ]);
  });
});
