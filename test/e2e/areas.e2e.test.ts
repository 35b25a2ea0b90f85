import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin, registerCustomer } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let browser: Browser;
let smtp: TestSmtp;
let server: TestServer;

beforeAll(async () => {
  [browser, smtp] = await Promise.all([launchBrowser(), startSmtp()]);
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  const admin = await createFirstAdmin(server, 'admin@kis.test');
  let ip = 20;
  for (const email of [
    'anna@kunde.example',
    'chef@acme.example',
    'bea@acme.example',
    'carl@other.example',
    'acme.fan@gmail.com',
  ])
    await registerCustomer(server, smtp, email, `192.0.2.${ip++}`);
  const acme = await admin.post<{ id: string }>('/api/admin/organizations', {
    name: 'Acme GmbH',
    mainEmail: 'chef@acme.example',
  });
  expect(
    (await admin.post(`/api/admin/organizations/${acme.body.id}/domains`, { domain: 'acme.example' })).status,
  ).toBe(200);
  const other = await admin.post<{ id: string }>('/api/admin/organizations', {
    name: 'Other AG',
    mainEmail: 'carl@other.example',
  });
  await admin.post(`/api/admin/organizations/${other.body.id}/domains`, { domain: 'other.example' });
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

/** Signs in in a fresh browser context and waits for the home page. */
async function signIn(email: string): Promise<{ page: Page; problems: string[] }> {
  const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
  const problems = watchErrors(page);
  await page.goto(`${server.url}/anmelden`);
  await page.getByLabel('E-Mail-Adresse').fill(email);
  await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await page.getByTestId('welcome').waitFor();
  return { page, problems };
}

/** The operator writes an entry in the areas console for a person (`?email=`) or a domain (`?domain=`). */
async function publish(admin: Page, target: string, title: string, body: string): Promise<void> {
  await admin.goto(`${server.url}/admin/bereiche?${target}`);
  const form = admin.getByRole('region', { name: 'Neuer Eintrag' });
  await form.getByLabel('Titel').fill(title);
  await form.getByLabel('Text (Markdown)').fill(body);
  await form.getByRole('button', { name: 'Veröffentlichen' }).click();
  await admin.getByTestId('info-entry').filter({ hasText: title }).waitFor();
}

describe('areas 1 and 2 in the browser', () => {
  it('shows an entry the operator writes for a person live, with a badge, and renders its Markdown safely', async () => {
    const anna = await signIn('anna@kunde.example');
    await anna.page.getByRole('link', { name: 'Informationen', exact: true }).click();
    await anna.page.getByText('Hier ist noch nichts hinterlegt.').waitFor();

    const admin = await signIn('admin@kis.test');
    await publish(
      admin.page,
      'email=anna@kunde.example',
      'Ihr Wartungsvertrag',
      'Gültig ab **1. Januar**.\n\n<script>window.pwned = 1</script>\n\n[Klick](javascript:alert(1)) und [Handbuch](https://example.com/handbuch)',
    );

    // Without a reload: the entry, marked new, and the badge in the navigation.
    const entry = anna.page.getByTestId('info-entry').filter({ hasText: 'Ihr Wartungsvertrag' });
    await entry.waitFor({ timeout: 5000 });
    await entry.getByTestId('unread-badge').waitFor();
    await expect.poll(() => anna.page.getByTestId('nav-unread').textContent()).toBe('1');
    expect(await entry.locator('strong').textContent()).toBe('1. Januar');
    expect(await entry.textContent()).toContain('<script>window.pwned = 1</script>');
    expect(await anna.page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    expect(await entry.getByRole('link', { name: 'Klick' }).count()).toBe(0);
    expect(await entry.getByRole('link', { name: 'Handbuch' }).getAttribute('rel')).toContain('noopener');

    await entry.getByRole('button', { name: 'Als gelesen markieren' }).click();
    await entry.getByTestId('unread-badge').waitFor({ state: 'detached' });
    await anna.page.getByTestId('nav-unread').waitFor({ state: 'detached' });
    await anna.page.screenshot({ path: '/tmp/kis-information.png', fullPage: true });
    expect(anna.problems).toEqual([]);
    expect(admin.problems).toEqual([]);
    await admin.page.screenshot({ path: '/tmp/kis-areas-console.png', fullPage: true });
    await anna.page.context().close();
    await admin.page.context().close();
  });

  it('shows a domain entry to a colleague of the domain and to nobody of another domain or of gmail', async () => {
    const bea = await signIn('bea@acme.example');
    await bea.page.goto(`${server.url}/informationen?bereich=unternehmen`);
    await bea.page.getByText('Für alle Kolleginnen und Kollegen mit einer Adresse @acme.example.').waitFor();

    const admin = await signIn('admin@kis.test');
    await publish(admin.page, 'domain=acme.example', 'Betriebsferien', 'Vom 23.12. bis 2.1. geschlossen.');
    await bea.page.getByTestId('info-entry').filter({ hasText: 'Betriebsferien' }).waitFor({ timeout: 5000 });

    for (const email of ['carl@other.example', 'acme.fan@gmail.com']) {
      const other = await signIn(email);
      await other.page.goto(`${server.url}/informationen?bereich=unternehmen`);
      await other.page.getByText('Hier ist noch nichts hinterlegt.').waitFor();
      expect(await other.page.getByText('Betriebsferien').count()).toBe(0);
      await other.page.context().close();
    }
    expect(bea.problems).toEqual([]);
    await bea.page.context().close();
    await admin.page.context().close();
  });
});

describe('area 4 in the browser', () => {
  it('uploads several files at once with progress and downloads one byte for byte', async () => {
    const anna = await signIn('anna@kunde.example');
    await anna.page.getByRole('link', { name: 'Dateien', exact: true }).click();
    await anna.page.getByTestId('files-hint').waitFor();
    expect(await anna.page.getByTestId('files-hint').textContent()).toContain('Bitte löschen Sie Dateien');

    const plan = randomBytes(3 * 1024 * 1024 + 17);
    await anna.page.getByTestId('file-input').setInputFiles([
      { name: 'Bauplan.dwg', mimeType: 'application/acad', buffer: plan },
      { name: 'Notiz.txt', mimeType: 'text/plain', buffer: Buffer.from('Schlüssel liegt im Fach 3.') },
    ]);
    const rows = anna.page.getByTestId('file-row');
    await rows.filter({ hasText: 'Bauplan.dwg' }).waitFor();
    await rows.filter({ hasText: 'Notiz.txt' }).waitFor();
    await expect.poll(() => anna.page.getByText(/3 MB von 10 GB belegt/).count(), { timeout: 15_000 }).toBe(1);
    // Once a file's row is there, its progress line is gone: the name is not shown twice.
    await expect.poll(() => anna.page.getByTestId('upload').count(), { timeout: 1000 }).toBe(0);
    expect(await anna.page.getByText('Notiz.txt', { exact: true }).count()).toBe(1);

    const [download] = await Promise.all([
      anna.page.waitForEvent('download'),
      rows.filter({ hasText: 'Bauplan.dwg' }).getByRole('link', { name: 'Herunterladen' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('Bauplan.dwg');
    const saved = await readFile(await download.path());
    expect(saved.equals(plan)).toBe(true);
    await anna.page.screenshot({ path: '/tmp/kis-files.png', fullPage: true });

    anna.page.once('dialog', (dialog) => void dialog.accept());
    await rows.filter({ hasText: 'Notiz.txt' }).getByRole('button', { name: 'Löschen' }).click();
    await rows.filter({ hasText: 'Notiz.txt' }).waitFor({ state: 'detached' });
    expect(anna.problems).toEqual([]);
    await anna.page.context().close();
  });

  it('shows a file the operator puts into the area without reload', async () => {
    const anna = await signIn('anna@kunde.example');
    await anna.page.goto(`${server.url}/dateien`);
    await anna.page.getByTestId('files-hint').waitFor();

    const admin = await signIn('admin@kis.test');
    await admin.page.goto(`${server.url}/admin/bereiche?email=anna@kunde.example`);
    await admin.page.getByRole('region', { name: 'Dateien von anna@kunde.example' }).getByTestId('dropzone').waitFor();
    await admin.page
      .getByRole('region', { name: 'Dateien von anna@kunde.example' })
      .getByTestId('file-input')
      .setInputFiles({ name: 'Angebot.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 Angebot') });

    const row = anna.page.getByTestId('file-row').filter({ hasText: 'Angebot.pdf' });
    await row.waitFor({ timeout: 5000 });
    expect(await row.textContent()).toContain('Vom Betreiber');
    await anna.page.context().close();
    await admin.page.context().close();
  });

  it('tells a file name with a path separator apart from a good one', async () => {
    const anna = await signIn('anna@kunde.example');
    await anna.page.goto(`${server.url}/dateien`);
    await anna.page.getByTestId('files-hint').waitFor();
    // Browsers strip paths from picked files; a name with a backslash still reaches the server as is.
    await anna.page.getByTestId('file-input').setInputFiles({
      name: 'C:\\boese\\datei.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('x'),
    });
    const failed = anna.page.locator('[data-testid="upload"][data-state="failed"]');
    await failed.waitFor();
    expect(await failed.textContent()).toContain('Der Dateiname ist ungültig');
    await anna.page.context().close();
  });
});
