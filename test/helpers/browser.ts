import { chromium, type Browser } from 'playwright-core';

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
