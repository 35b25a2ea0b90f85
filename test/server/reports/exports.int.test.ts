import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirstAdmin, type ApiClient } from '../../helpers/api.js';
import { download } from '../../helpers/areas.js';
import { registerDepot } from '../../helpers/depots.js';
import { customer } from '../../helpers/organizations.js';
import { startServer, type TestServer } from '../../helpers/server.js';
import { startSmtp, type TestSmtp } from '../../helpers/smtp.js';

const run = promisify(execFile);
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let depotId: string;
let dir: string;

beforeAll(async () => {
  smtp = await startSmtp();
  server = await startServer({ env: { SMTP_URL: smtp.url, KIS_OPERATOR_NAME: 'Schlüsseldienst Müller GmbH' } });
  admin = await createFirstAdmin(server);
  dir = await mkdtemp(path.join(os.tmpdir(), 'kis-export-'));
  depotId = (await registerDepot(admin, { name: 'Werkstatt Süd', compartments: 8 })).depot.depotId;
  for (let i = 1; i <= 60; i++) {
    const res = await admin.post(`/api/depots/${depotId}/history`, {
      kind: i % 2 ? 'note' : 'handover',
      comp: (i % 8) + 1,
      text: i === 1 ? 'Schlüssel übergeben an Jürgen Groß; "Ersatz" folgt' : `Eintrag ${i}`,
    });
    expect(res.status).toBe(200);
  }
});
afterAll(async () => {
  await server?.stop();
  await smtp?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('history export', () => {
  it('writes a CSV that a parser reads back with umlauts, quotes and the chosen separator', async () => {
    const got = await download(
      admin,
      `/api/depots/${depotId}/history/export?format=csv&delimiter=%3B&tz=Europe/Berlin`,
    );
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; filename="verlauf-/);
    expect([...got.bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parse(got.bytes, { bom: true, delimiter: ';', columns: true }) as Array<Record<string, string>>;
    expect(rows).toHaveLength(60);
    expect(Object.keys(rows[0] ?? {})).toEqual(['Zeit', 'Quelle', 'Ereignis', 'Fach', 'PIN für', 'Person', 'Info']);
    // The words of the depot page, not the stored codes (note, user).
    expect(rows[0]).toMatchObject({
      Quelle: 'Person',
      Ereignis: 'Notiz',
      Fach: '2',
      Info: 'Schlüssel übergeben an Jürgen Groß; "Ersatz" folgt',
    });
    expect(rows[0]?.Zeit).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    expect(rows.at(-1)?.Info).toBe('Eintrag 60');

    const english = await download(
      admin,
      `/api/depots/${depotId}/history/export?format=csv&delimiter=,&lang=en&kind=handover`,
    );
    const en = parse(english.bytes, { bom: true, delimiter: ',', columns: true }) as Array<Record<string, string>>;
    expect(en).toHaveLength(30);
    expect(Object.keys(en[0] ?? {})[0]).toBe('Time');
    expect(en.every((r) => r.Event === 'Handed over in person' && r.Source === 'Person')).toBe(true);
  });

  it('writes a PDF table that renders: title block, header, rows in words, and page x of y', async () => {
    const got = await download(
      admin,
      `/api/depots/${depotId}/history/export?format=pdf&tz=Europe/Berlin&kind=note&from=2026-01-01T00:00:00Z`,
    );
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/pdf');
    const pdf = path.join(dir, 'verlauf.pdf');
    await writeFile(pdf, got.bytes);
    const { stdout } = await run('pdfinfo', [pdf]);
    // 30 notes and the title block do not fit one page.
    const pages = Number(/Pages:\s+(\d+)/.exec(stdout)?.[1]);
    expect(pages).toBeGreaterThanOrEqual(2);
    await run('pdftoppm', ['-png', '-r', '80', '-f', '1', '-l', '1', pdf, path.join(dir, 'page')]);
    const png = path.join(dir, 'page-1.png');
    expect((await stat(png)).size).toBeGreaterThan(20_000);
    // Kept for a person to look at (the closing note says what it shows).
    await writeFile(path.join(os.tmpdir(), 'kis-history-export.png'), await readFile(png));
    const { stdout: text } = await run('pdftotext', ['-layout', pdf, '-']);
    expect(text).toContain('Schlüsseldienst Müller GmbH');
    expect(text).toContain('Verlauf: Werkstatt Süd');
    // The title block: who made it, of what, for which period and filters, when.
    expect(text).toMatch(/Betreiber\s+Schlüsseldienst Müller GmbH/);
    expect(text).toMatch(new RegExp(`Depot\\s+Werkstatt Süd \\(${depotId}\\)`));
    expect(text).toMatch(/Zeitraum\s+ab 01\.01\.2026, 01:00:00/);
    expect(text).toMatch(/Filter\s+Notiz/);
    expect(text).toMatch(/Erstellt\s+\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2} \(Europe\/Berlin\)/);
    expect(text).toContain(`Seite 1 von ${pages}`);
    expect(text).toContain(`Seite ${pages} von ${pages}`);
    expect(text).toContain('Notiz');
    expect(text).not.toMatch(/\bnote\b/);
    expect(text).toContain('Schlüssel übergeben an Jürgen Groß');
    expect(text).toMatch(/\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}:\d{2}/);
  });

  it('is refused to someone who may not see the depot, as if it did not exist', async () => {
    const stranger = await customer(server, smtp, 'fremd@export.example');
    expect((await download(stranger, `/api/depots/${depotId}/history/export?format=csv`)).status).toBe(404);
    expect((await download(admin, `/api/depots/${depotId}/history/export?format=xls`)).status).toBe(400);
    expect((await download(admin, `/api/depots/${depotId}/history/export?format=csv&tz=Mars/Olympus`)).status).toBe(
      400,
    );
  });
});

describe('audit log export', () => {
  it('exports the log for operators only, and logs the export', async () => {
    const got = await download(admin, '/api/admin/audit/export?format=csv&action=depot.history_exported');
    const rows = parse(got.bytes, { bom: true, delimiter: ';', columns: true }) as Array<Record<string, string>>;
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((r) => r.Aktion === 'depot.history_exported')).toBe(true);
    const someone = await customer(server, smtp, 'neugierig@export.example');
    expect((await download(someone, '/api/admin/audit/export?format=csv')).status).toBe(403);
    const log = await admin.get<{ items: Array<{ action: string }> }>('/api/admin/audit?action=audit.exported');
    expect(log.body.items.length).toBe(1);
  });
});
