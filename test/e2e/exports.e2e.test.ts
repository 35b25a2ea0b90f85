import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { registerDepot } from '../helpers/depots.js';
import { startServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
let browser: Browser;
let server: TestServer;
let admin: ApiClient;
let depotId: string;

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer();
  admin = await createFirstAdmin(server, 'admin@kis.test');
  depotId = (await registerDepot(admin, { name: 'Depot Mitte' })).depot.depotId;
  for (let i = 1; i <= 5; i++)
    await admin.post(`/api/depots/${depotId}/history`, { kind: 'note', comp: 1, text: `Notiz Nummer ${i} – Größe` });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function signIn(): Promise<{ page: Page; problems: string[] }> {
  const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
  const problems = watchErrors(page);
  await page.goto(`${server.url}/anmelden`);
  await page.getByLabel('E-Mail-Adresse').fill('admin@kis.test');
  await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await page.getByTestId('welcome').waitFor();
  return { page, problems };
}

describe('exports in the browser', () => {
  it('downloads the depot history as CSV from the depot page', async () => {
    const { page, problems } = await signIn();
    await page.goto(`${server.url}/depots/${depotId}#verlauf`);
    const exporter = page.getByTestId('export');
    await exporter.waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      exporter.getByRole('button', { name: 'Exportieren' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^verlauf-[0-9a-f]{16}-\d{4}-\d{2}-\d{2}\.csv$/);
    const rows = parse(await readFile(await download.path()), { bom: true, delimiter: ';', columns: true }) as Array<
      Record<string, string>
    >;
    expect(rows.map((r) => r.Info)).toEqual([1, 2, 3, 4, 5].map((i) => `Notiz Nummer ${i} – Größe`));
    // In the page's words: the kind and source as the history table names them.
    expect(rows.map((r) => [r.Quelle, r.Ereignis])).toEqual(Array(5).fill(['Person', 'Notiz']));
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("downloads every depot's history of the last 30 days as CSV from the depot list", async () => {
    const { page, problems } = await signIn();
    await page.goto(`${server.url}/depots`);
    const exporter = page.getByTestId('fleet-export');
    await exporter.getByRole('heading', { name: 'Verlauf aller Depots exportieren' }).waitFor();
    // The range to the day the browser knows as today, back 30 days.
    // Days as a German reader writes them, whatever language the browser speaks.
    const day = (text: string): number => {
      const [d, m, y] = text.split('.').map(Number);
      return Date.UTC(y ?? 0, (m ?? 1) - 1, d);
    };
    const to = await exporter.getByRole('textbox', { name: 'Bis einschließlich' }).inputValue();
    const from = await exporter.getByRole('textbox', { name: 'Von (Tag)' }).inputValue();
    expect(to).toMatch(/^\d{2}\.\d{2}\.\d{4}$/);
    expect(day(to) - day(from)).toBe(30 * 86_400_000);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      exporter.getByRole('button', { name: 'Exportieren' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^verlauf-alle-depots-\d{4}-\d{2}-\d{2}\.csv$/);
    const rows = parse(await readFile(await download.path()), { bom: true, delimiter: ';', columns: true }) as Array<
      Record<string, string>
    >;
    expect(rows.map((r) => [r.Depot, r.Info])).toEqual(
      [1, 2, 3, 4, 5].map((i) => ['Depot Mitte', `Notiz Nummer ${i} – Größe`]),
    );
    // A range the server would refuse is held back in the browser, with the reason.
    await exporter.getByRole('textbox', { name: 'Von (Tag)' }).fill('01.01.2020');
    await exporter.getByRole('alert').waitFor();
    expect(await exporter.getByRole('button', { name: 'Exportieren' }).isDisabled()).toBe(true);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('downloads the audit log as PDF', async () => {
    const { page, problems } = await signIn();
    await page.goto(`${server.url}/admin/protokoll`);
    const exporter = page.getByTestId('export');
    await exporter.getByLabel('Format').selectOption('pdf');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      exporter.getByRole('button', { name: 'Exportieren' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^protokoll-.*\.pdf$/);
    const { stdout } = await run('pdftotext', [await download.path(), '-']);
    expect(stdout).toContain('Protokoll');
    expect(stdout).toContain('depot.history_exported');
    // Outcomes in words, and the title block's lines.
    expect(stdout).toContain('erfolgreich');
    expect(stdout).not.toMatch(/\bsuccess\b/);
    expect(stdout).toMatch(/Betreiber/);
    expect(stdout).toMatch(/Seite 1 von \d+/);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
