import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, watchErrors } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the portal in a browser', () => {
  it('speaks German first, switches to English, remembers it, and shows the live connection', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watchErrors(page);

    await page.goto(server.url);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Kundenportal');
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    const indicator = page.getByTestId('connection-indicator');
    await expect.poll(() => indicator.textContent()).toContain('Verbunden');

    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Customer portal');
    await expect.poll(() => indicator.textContent()).toContain('Connected');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.getByRole('button', { name: 'English' }).getAttribute('aria-pressed')).toBe('true');

    await page.reload();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Customer portal');

    // No CSP violation or script error on the way.
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows the indicator as disconnected when the server goes away', async () => {
    const own = await startServer();
    const page = await browser.newPage();
    try {
      await page.goto(own.url);
      const indicator = page.getByTestId('connection-indicator');
      // A server just started on a busy machine may take more than the default 5 s to take the socket.
      await expect.poll(() => indicator.textContent(), { timeout: 15_000 }).toContain('Verbunden');
      await own.stop();
      await expect.poll(() => indicator.textContent(), { timeout: 20_000 }).toMatch(/Getrennt|Verbinde/);
    } finally {
      await page.close();
      await own.stop();
    }
  });
});
