import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOOD_PASSWORD, createFirstAdmin, registerCustomer, type ApiClient } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let browser: Browser;
let smtp: TestSmtp;
let server: TestServer;
let admin: ApiClient;

beforeAll(async () => {
  [browser, smtp] = await Promise.all([launchBrowser(), startSmtp()]);
  server = await startServer({ env: { SMTP_URL: smtp.url } });
  admin = await createFirstAdmin(server, 'admin@kis.test');
  await registerCustomer(server, smtp, 'kunde@firma.example', '198.51.100.20');
});
afterAll(async () => {
  await server?.stop();
  await browser?.close();
  await smtp?.close();
});

async function signedIn(email: string, width: number, language: 'de' | 'en' = 'de'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  await context.addInitScript(`localStorage.setItem('kis.locale', '${language}')`);
  const page = await context.newPage();
  await page.goto(`${server.url}/anmelden`);
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(GOOD_PASSWORD);
  await page.locator('form button[type="submit"]').click();
  await page.getByTestId('welcome').waitFor();
  return page;
}

/** Whether the page is wider than the window (something cut off or to scroll sideways). */
async function overflows(page: Page): Promise<boolean> {
  return page.evaluate<boolean>('document.documentElement.scrollWidth > window.innerWidth');
}

/** The distinct rows (rounded tops) the header's visible items stand in. */
async function headerRows(page: Page): Promise<number> {
  const tops = await page
    .locator('.topbar > *:visible, .topbar nav > *:visible')
    .evaluateAll((items) => items.map((item) => Math.round(item.getBoundingClientRect().top / 20)));
  return new Set(tops).size;
}

describe('finding the way', () => {
  it("keeps an operator's header in one row at 1024 px in German and English, with the administration behind one entry", async () => {
    for (const language of ['de', 'en'] as const) {
      const page = await signedIn('admin@kis.test', 1024, language);
      const problems = watchErrors(page);
      const header = page.getByRole('navigation', { name: language === 'de' ? 'Hauptnavigation' : 'Main navigation' });
      // Customer pages and one entry for everything only operators see; no operator page of its own.
      const links = await header.getByRole('link').allTextContents();
      expect(links.map((l) => l.trim())).toContain(language === 'de' ? 'Verwaltung' : 'Administration');
      expect(links.join(' ')).not.toMatch(/Protokoll|Postausgang|Audit log|Outbox/);
      await page.screenshot({ path: `/tmp/kis-nav-operator-1024-${language}.png` });
      expect(await headerRows(page)).toBe(1);
      expect(await overflows(page)).toBe(false);
      expect(problems).toEqual([]);
      await page.context().close();
    }
  });

  it('leads an operator through the administration with its own side navigation, each section by its address', async () => {
    const page = await signedIn('admin@kis.test', 1280);
    const problems = watchErrors(page);
    await page.screenshot({ path: '/tmp/kis-nav-operator-1280.png' });
    await page.getByRole('link', { name: 'Verwaltung' }).click();
    await page.waitForURL(/\/admin$/);
    await page.getByRole('heading', { name: 'Verwaltung', level: 1 }).waitFor();
    const side = page.getByTestId('admin-nav');
    expect((await side.getByRole('link').allTextContents()).map((l) => l.trim())).toEqual([
      'Verwaltung',
      'Bereiche',
      'Benutzer',
      'Unternehmen',
      'Protokoll',
      'Postausgang',
      'Datenschutz',
      'Umstellung',
      'Rechnungseinstellungen',
    ]);
    await page.screenshot({ path: '/tmp/kis-nav-admin-1280.png', fullPage: true });
    await side.getByRole('link', { name: 'Protokoll' }).click();
    await page.waitForURL(/\/admin\/protokoll$/);
    expect(await side.getByRole('link', { name: 'Protokoll' }).getAttribute('aria-current')).toBe('page');
    await page.getByTestId('audit-row').first().waitFor();
    // The address opens the section directly, with the side navigation beside it.
    await page.goto(`${server.url}/admin/postausgang`);
    expect(
      await page.getByTestId('admin-nav').getByRole('link', { name: 'Postausgang' }).getAttribute('aria-current'),
    ).toBe('page');
    await page.screenshot({ path: '/tmp/kis-nav-outbox-1280.png' });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('folds the navigation behind a menu button on a phone, and folds it again after a choice', async () => {
    const page = await signedIn('admin@kis.test', 375);
    const problems = watchErrors(page);
    const menu = page.getByRole('button', { name: 'Menü' });
    const nav = page.getByRole('navigation', { name: 'Hauptnavigation' });
    expect(await nav.isVisible()).toBe(false);
    await page.screenshot({ path: '/tmp/kis-nav-375-closed.png' });
    await menu.click();
    expect(await page.getByRole('button', { name: 'Menü schließen' }).getAttribute('aria-expanded')).toBe('true');
    await nav.getByRole('link', { name: 'Verwaltung' }).waitFor();
    await page.screenshot({ path: '/tmp/kis-nav-375-open.png', fullPage: true });
    expect(await overflows(page)).toBe(false);
    await nav.getByRole('link', { name: 'Verwaltung' }).click();
    await page.waitForURL(/\/admin$/);
    await expect.poll(() => nav.isVisible()).toBe(false);
    await page.screenshot({ path: '/tmp/kis-nav-admin-375.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows a customer no administration and fits the header in one row at 1024 px', async () => {
    const page = await signedIn('kunde@firma.example', 1024);
    const header = page.getByRole('navigation', { name: 'Hauptnavigation' });
    expect(await header.getByRole('link', { name: 'Verwaltung' }).count()).toBe(0);
    // The account is under the person's name.
    await page.getByTestId('identity-switcher').locator('summary').click();
    await page.getByTestId('identity-switcher').getByRole('link', { name: 'Mein Konto' }).click();
    await page.waitForURL(/\/konto$/);
    await page.screenshot({ path: '/tmp/kis-nav-customer-1024.png' });
    expect(await headerRows(page)).toBe(1);
    expect(await overflows(page)).toBe(false);
    // The administration's address tells a customer it is not theirs, without its navigation.
    await page.goto(`${server.url}/admin`);
    await page.getByRole('alert').getByText('Dieser Bereich ist Administratoren vorbehalten.').waitFor();
    expect(await page.getByTestId('admin-nav').count()).toBe(0);
    await page.context().close();
  });

  it('lands an operator on the overview, whose first steps go once done, and shows a customer depots only with one', async () => {
    const page = await signedIn('admin@kis.test', 1280);
    const problems = watchErrors(page);
    const overview = page.getByTestId('operator-overview');
    const checklist = overview.getByTestId('first-run-checklist');
    await checklist.waitFor();
    // Mail is set up here (SMTP_URL); no depot and no company yet.
    expect(await checklist.getByTestId('checklist-mail').textContent()).toContain('erledigt');
    expect(await checklist.getByTestId('checklist-depot').textContent()).toContain('offen');
    expect(await checklist.getByTestId('checklist-domains').textContent()).toContain('offen');
    expect(await overview.getByTestId('figure-depots').textContent()).toContain('Noch keine Depots.');
    expect(await page.getByTestId('tile-personal').count()).toBe(0);
    await page.screenshot({ path: '/tmp/kis-home-operator-first-run-1280.png', fullPage: true });
    const customer = await signedIn('kunde@firma.example', 1280);
    await customer.getByTestId('tile-texts').waitFor();
    expect(await customer.getByTestId('tile-depots').count()).toBe(0);
    expect(await customer.getByTestId('operator-overview').count()).toBe(0);

    // The company with its domain confirmed, and a depot of its own.
    const org = await admin.post<{ id: string }>('/api/admin/organizations', {
      name: 'Firma GmbH',
      mainEmail: 'kunde@firma.example',
    });
    expect(org.status).toBe(200);
    expect(
      (await admin.post(`/api/admin/organizations/${org.body.id}/domains`, { domain: 'firma.example' })).status,
    ).toBe(200);
    expect(
      (await admin.post('/api/depots', { name: 'Lager Nord', compartments: 4, organizationId: org.body.id })).status,
    ).toBe(200);

    await page.reload();
    const depots = overview.getByTestId('figure-depots');
    await expect.poll(() => depots.textContent()).toContain('0 online · 1 offline');
    expect(await checklist.count()).toBe(0);
    await page.screenshot({ path: '/tmp/kis-home-operator-1280.png', fullPage: true });
    await depots.click();
    await page.waitForURL(/\/depots$/);

    const phone = await signedIn('admin@kis.test', 375);
    await phone.getByTestId('figure-depots').waitFor();
    expect(await overflows(phone)).toBe(false);
    await phone.screenshot({ path: '/tmp/kis-home-operator-375.png', fullPage: true });

    await customer.reload();
    await customer.getByTestId('tile-depots').click();
    await customer.waitForURL(/\/depots$/);
    expect(problems).toEqual([]);
    for (const p of [page, phone, customer]) await p.context().close();
  });

  it('gives a visitor on a phone the login and registration behind the menu button', async () => {
    const page = await (await browser.newContext({ viewport: { width: 375, height: 800 } })).newPage();
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'Menü' }).click();
    const nav = page.getByRole('navigation', { name: 'Hauptnavigation' });
    await nav.getByRole('link', { name: 'Anmelden' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Registrieren' }).isVisible()).toBe(true);
  });

  it('shows no login, registration or revocation links on the first administrator’s set-up page', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${server.url}/einrichten`);
    await page.getByRole('heading', { name: 'Ersten Administrator anlegen' }).waitFor();
    expect(await page.getByRole('link', { name: /Anmelden|Registrieren|widerrufen/ }).count()).toBe(0);
    await page.context().close();
  });
});
