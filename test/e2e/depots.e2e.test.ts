import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDepot } from '../../scripts/simulator/depot.js';
import { GOOD_PASSWORD, createFirstAdmin, type ApiClient } from '../helpers/api.js';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { registerDepot, simulate } from '../helpers/depots.js';
import { startServer, type TestServer } from '../helpers/server.js';

let browser: Browser;
let server: TestServer;
let admin: ApiClient;
const running: SimulatedDepot[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
  server = await startServer();
  admin = await createFirstAdmin(server, 'admin@kis.test');
});
afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  await browser?.close();
  await server?.stop();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${server.url}/anmelden`);
  await page.getByLabel('E-Mail-Adresse').fill('admin@kis.test');
  await page.getByLabel('Passwort').fill(GOOD_PASSWORD);
  await page.getByRole('button', { name: 'Anmelden' }).click();
  await page.getByTestId('welcome').waitFor();
}

describe('the depot dashboard', () => {
  it('shows depots live: keys, alarms and offline within moments of the telegram, without reload', async () => {
    const { provisioning } = await registerDepot(admin, { name: 'Depot Hafen', compartments: 4, heartbeatSeconds: 1 });
    const depot = simulate(provisioning);
    running.push(depot);
    await depot.start();

    const page = await browser.newPage();
    const problems = watchErrors(page);
    await signIn(page);
    await page.getByRole('link', { name: 'Schlüsseldepots', exact: true }).click();
    const tile = page.locator(`[data-testid="depot-tile"][data-depot="${provisioning.depotId}"]`);
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 5000 }).toBe('online');
    await expect.poll(() => tile.getByTestId('comp-2').getAttribute('data-key')).toBe('present');

    // A key is taken: the tile follows within a second, no reload.
    const takenAt = Date.now();
    depot.takeKey(2);
    await tile.locator('[data-testid="comp-2"][data-key="absent"]').waitFor({ timeout: 1000 });
    const keyLatency = Date.now() - takenAt;
    expect(keyLatency).toBeLessThan(1000);

    // Tamper: an alarm on the tile and an alert on the page.
    depot.event('tamper', { info: 'Gehäuse geöffnet' });
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 1000 }).toBe('alarm');
    await page.getByTestId('alarm-alert').filter({ hasText: 'Sabotage' }).waitFor({ timeout: 1000 });
    await page.screenshot({ path: '/tmp/kis-dashboard.png', fullPage: true });

    // The depot falls silent: offline after 3 missed intervals (3 s here).
    await depot.stop();
    await expect.poll(() => tile.getAttribute('data-state'), { timeout: 6000 }).toBe('offline');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('lets an operator make a PIN on the depot page and shows who took the key with it', async () => {
    const { provisioning } = await registerDepot(admin, {
      name: 'Depot Werkstatt',
      compartments: 3,
      heartbeatSeconds: 1,
    });
    const depot = simulate(provisioning, { compartments: 3 });
    running.push(depot);
    await depot.start();

    const page = await browser.newPage();
    const problems = watchErrors(page);
    await signIn(page);
    await page.goto(`${server.url}/depots/${provisioning.depotId}`);
    await page.getByRole('heading', { name: 'Depot Werkstatt' }).waitFor();
    await expect.poll(() => page.getByTestId('depot-online').textContent(), { timeout: 5000 }).toContain('Online');

    // The page opens on the live state; its parts are tabs, each at its own address.
    const tabs = page.getByTestId('depot-tabs');
    expect((await tabs.getByRole('link').allTextContents()).map((t) => t.trim())).toEqual([
      'Live',
      'Verlauf',
      'PINs',
      'Befehle',
      'Zugriff',
      'Einstellungen',
    ]);
    expect(await tabs.getByRole('link', { name: 'Live' }).getAttribute('aria-current')).toBe('page');
    await page.getByRole('region', { name: 'Zustand' }).waitFor();
    await page.screenshot({ path: '/tmp/kis-depot-live-1280.png', fullPage: true });
    await tabs.getByRole('link', { name: 'PINs' }).click();
    await page.waitForURL(/#pins$/);
    expect(await page.getByRole('region', { name: 'Zustand' }).count()).toBe(0);
    const pins = page.getByRole('region', { name: 'PINs' });
    await pins.getByLabel('Fach').selectOption('2');
    await pins.getByLabel('Für wen').fill('Hausmeister Meyer');
    await pins.getByRole('button', { name: 'PIN anlegen' }).click();
    const created = (await page.getByTestId('pin-created').textContent()) ?? '';
    const digits = /Neue PIN: (\d+)/.exec(created)?.[1] ?? '';
    expect(digits).toMatch(/^\d{6}$/);
    await pins.locator('tr[data-state="active"]').waitFor({ timeout: 5000 });

    const opened = depot.enterPin(digits);
    expect(opened?.comp).toBe(2);
    depot.takeKey(2, opened?.pinId);

    await tabs.getByRole('link', { name: 'Verlauf' }).click();
    const history = page.getByTestId('history');
    const row = history.locator('tr[data-kind="key_removed"]').filter({ hasText: 'Hausmeister Meyer' });
    await row.waitFor({ timeout: 3000 });
    expect(await row.textContent()).toContain('Schlüssel entnommen');
    await page.screenshot({ path: '/tmp/kis-depot-history-1280.png', fullPage: true });
    // The address opens the tab directly (a bookmark, a link in a mail).
    await page.goto(`${server.url}/depots/${provisioning.depotId}#befehle`);
    const commands = page.getByTestId('commands');
    await expect.poll(() => commands.locator('tr[data-state="succeeded"]').count()).toBeGreaterThan(0);
    expect(await tabs.getByRole('link', { name: 'Befehle' }).getAttribute('aria-current')).toBe('page');
    await page.setViewportSize({ width: 375, height: 800 });
    await page.screenshot({ path: '/tmp/kis-depot-commands-375.png', fullPage: true });
    expect(await page.evaluate<boolean>('document.documentElement.scrollWidth > window.innerWidth')).toBe(false);
    await page.setViewportSize({ width: 1280, height: 900 });
    await tabs.getByRole('link', { name: 'Verlauf' }).click();

    // The history filters by compartment and kind.
    const section = page.getByRole('region', { name: 'Verlauf' });
    await section.getByLabel('Art').selectOption('pin_accepted');
    await section.getByRole('button', { name: 'Filtern' }).click();
    await expect.poll(() => history.locator('tbody tr').count()).toBe(1);
    expect(await history.locator('tbody tr').first().getAttribute('data-kind')).toBe('pin_accepted');
    expect(problems).toEqual([]);
    await page.close();
  });
});
