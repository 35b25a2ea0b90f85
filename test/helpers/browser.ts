import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; CI installs it with apt-get. */
export const CHROMIUM = process.env.KIS_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium with the flags this machine needs (no sandbox as root, no calls to
 * Google's services that the closed network would refuse).
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Collects script errors and CSP violations on a page. Chromium also logs every 4xx answer
 * ("Failed to load resource"); those are the API saying no (a weak password, the anonymous session
 * check), which tests assert on the page itself.
 */
export function watchErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  return problems;
}
