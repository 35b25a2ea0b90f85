import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentView } from '@kis/protocol/api';
import { ApiClient, GOOD_PASSWORD, createFirstAdmin, registerCustomer } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let browser: Browser;
let smtp: TestSmtp;
let server: TestServer;
let docId: string;

beforeAll(async () => {
  [browser, smtp] = await Promise.all([launchBrowser(), startSmtp()]);
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  const admin = await createFirstAdmin(server, 'admin@kis.test');
  await registerCustomer(server, smtp, 'chef@acme.example', '192.0.2.30');
  await registerCustomer(server, smtp, 'fremd@other.example', '192.0.2.31');
  expect(
    (await admin.post('/api/admin/organizations', { name: 'Acme GmbH', mainEmail: 'chef@acme.example' })).status,
  ).toBe(200);
  const main = new ApiClient(server, '192.0.2.30');
  await main.login('chef@acme.example', GOOD_PASSWORD);
  const created = await main.post<DocumentView>('/api/documents', {
    title: 'Wartungsplan 2027',
    forOrganization: true,
  });
  docId = created.body.id;
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

async function signIn(email: string): Promise<{ page: Page; problems: string[] }> {
  const page = await (await browser.newContext()).newPage();
  const problems = watchErrors(page);
  await page.goto(`${server.url}/anmelden`);
  await page.getByLabel('E-Mail-Adresse').fill(email);
  await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await page.getByTestId('welcome').waitFor();
  return { page, problems };
}

/** The text itself, without the other editors' cursor labels (which differ per screen). */
function text(p: Page): Promise<string> {
  return p.getByTestId('editor').evaluate((el) => {
    const copy = el.cloneNode(true) as typeof el;
    for (const caret of copy.querySelectorAll('.collaboration-carets__caret')) caret.remove();
    return copy.textContent ?? '';
  });
}

/** Opens the text and waits until the editor may be typed in. */
async function openText(page: Page): Promise<void> {
  await page.goto(`${server.url}/texte/${docId}`);
  await page.locator('[data-testid="editor"][contenteditable="true"]').waitFor();
}

describe('area 3 in the browser', () => {
  it('lets a customer and the operator type at once and both end with the same text, with each other’s cursor', async () => {
    const customer = await signIn('chef@acme.example');
    const operator = await signIn('admin@kis.test');
    await customer.page.getByRole('link', { name: 'Texte', exact: true }).click();
    await customer.page.getByTestId('document-row').filter({ hasText: 'Wartungsplan 2027' }).getByRole('link').click();
    await customer.page.locator('[data-testid="editor"][contenteditable="true"]').waitFor();
    await openText(operator.page);

    await customer.page.getByTestId('editor').click();
    await operator.page.getByTestId('editor').click();
    await Promise.all([
      customer.page.keyboard.type('Kunde: Bitte Fach 3 prüfen. ', { delay: 15 }),
      operator.page.keyboard.type('Betreiber: Termin am Montag. ', { delay: 15 }),
    ]);

    await expect
      .poll(async () => (await text(customer.page)) === (await text(operator.page)), { timeout: 10_000 })
      .toBe(true);
    const final = await text(customer.page);
    expect(final).toContain('Kunde: Bitte Fach 3 prüfen.');
    expect(final).toContain('Betreiber: Termin am Montag.');
    await customer.page.locator('[data-testid="doc-status"][data-status="saved"]').waitFor();

    // The other editor's cursor, named and coloured.
    await customer.page.locator('.collaboration-carets__label', { hasText: 'Ada Admin' }).waitFor({ timeout: 5000 });
    await customer.page.screenshot({ path: '/tmp/kis-text.png', fullPage: true });

    // A reload shows the stored text, not a doubled one.
    await customer.page.reload();
    await customer.page.locator('[data-testid="editor"][contenteditable="true"]').waitFor();
    await expect.poll(() => text(customer.page), { timeout: 5000 }).toBe(final);
    expect(customer.problems).toEqual([]);
    expect(operator.problems).toEqual([]);
    await customer.page.context().close();
    await operator.page.context().close();
  });

  it('keeps only what the editor knows of pasted HTML', async () => {
    const customer = await signIn('chef@acme.example');
    await openText(customer.page);
    const editorBox = customer.page.getByTestId('editor');
    await editorBox.click();
    // A paste as the browser delivers it (the tests have no DOM types: the script is a string).
    await customer.page.evaluate(`(() => {
      const data = new DataTransfer();
      data.setData('text/html', '<p>Eingefügt <b>fett</b><img src="x" onerror="window.pwned=1">' +
        '<script>window.pwned=2<\\/script><a href="javascript:window.pwned=3">Link</a>' +
        '<iframe src="https://example.com"></iframe></p>');
      const target = document.querySelector('[data-testid="editor"]');
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    })()`);
    await editorBox.getByText('Eingefügt').waitFor();
    expect(await editorBox.locator('strong', { hasText: 'fett' }).count()).toBe(1);
    expect(await editorBox.locator('img, script, iframe').count()).toBe(0);
    expect(await editorBox.locator('a[href^="javascript:"]').count()).toBe(0);
    await editorBox.getByText('Link').click();
    expect(await customer.page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    // Parsing the pasted HTML makes the browser try the image's handler; the CSP blocks it (and says so).
    const others = customer.problems.filter((p) => !/Content Security Policy.*blocked/s.test(p));
    expect(others, others.join('\n')).toEqual([]);
    await customer.page.context().close();
  });

  it('keeps a version on the page, shows it, and restores it for the other editor too', async () => {
    const customer = await signIn('chef@acme.example');
    const operator = await signIn('admin@kis.test');
    await openText(customer.page);
    await openText(operator.page);
    const kept = await text(customer.page);
    await customer.page.getByLabel('Name der Version').fill('Stand Dienstag');
    await customer.page.getByRole('button', { name: 'Version speichern' }).click();
    const version = customer.page.getByTestId('version').filter({ hasText: 'Stand Dienstag' });
    await version.waitFor();

    await operator.page.getByTestId('editor').click();
    await operator.page.keyboard.press('End');
    await operator.page.keyboard.type(' Später ergänzt.');
    await expect.poll(() => text(customer.page), { timeout: 5000 }).toContain('Später ergänzt.');

    await version.getByRole('button', { name: 'Ansehen' }).click();
    const preview = version.getByTestId('version-preview');
    await preview.waitFor();
    expect(await preview.textContent()).not.toContain('Später ergänzt.');

    customer.page.once('dialog', (dialog) => void dialog.accept());
    await version.getByRole('button', { name: 'Wiederherstellen' }).click();
    await expect.poll(() => text(operator.page), { timeout: 5000 }).toBe(kept);
    await expect.poll(() => text(customer.page), { timeout: 5000 }).toBe(kept);
    await customer.page.getByTestId('version').filter({ hasText: 'Vor dem Wiederherstellen' }).waitFor();

    const [download] = await Promise.all([
      customer.page.waitForEvent('download'),
      customer.page.getByRole('link', { name: 'Als Markdown' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('Wartungsplan 2027.md');
    await customer.page.context().close();
    await operator.page.context().close();
  });

  it('does not let someone without the right join', async () => {
    const stranger = await signIn('fremd@other.example');
    await stranger.page.goto(`${server.url}/texte/${docId}`);
    await stranger.page.getByText('Diesen Text gibt es nicht, oder Sie dürfen ihn nicht öffnen.').waitFor();
    expect(await stranger.page.getByText('Kunde: Bitte Fach 3 prüfen.').count()).toBe(0);
    await stranger.page.context().close();
  });
});

describe('area 3 offline', () => {
  it('merges what was typed while the connection was down when it returns', async () => {
    const customer = await signIn('chef@acme.example');
    const operator = await signIn('admin@kis.test');
    await openText(customer.page);
    await openText(operator.page);

    await customer.page.context().setOffline(true);
    await customer.page.locator('[data-testid="doc-status"][data-status="offline"]').waitFor({ timeout: 30_000 });
    await customer.page.getByTestId('editor').click();
    await customer.page.keyboard.press('End');
    await customer.page.keyboard.type(' Offline geschrieben.');
    await operator.page.getByTestId('editor').click();
    await operator.page.keyboard.type('Währenddessen online. ');
    await customer.page.context().setOffline(false);

    await expect
      .poll(async () => (await text(customer.page)) === (await text(operator.page)), { timeout: 30_000 })
      .toBe(true);
    const final = await text(operator.page);
    expect(final).toContain('Offline geschrieben.');
    expect(final).toContain('Währenddessen online.');
    await customer.page.context().close();
    await operator.page.context().close();
  });
});
