import { createHash } from 'node:crypto';

/**
 * Hashes of the inline scripts in the SPA's index.html, for the Content-Security-Policy.
 * SvelteKit's static fallback page boots the app from one inline script; allowing exactly that
 * script by hash keeps `script-src` free of 'unsafe-inline'.
 */
export function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const match of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) {
    const body = match[1] ?? '';
    hashes.push(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
  }
  return hashes;
}

/** The CSP directives for the portal (helmet's format). */
export function contentSecurityPolicy(
  scriptHashes: readonly string[],
  httpsOnly: boolean,
): Record<string, string[] | null> {
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'", ...scriptHashes],
    'style-src': ["'self'"],
    // SvelteKit's route announcer carries a style attribute. Attributes cannot hold selectors, so
    // allowing them inline does not open the CSS-exfiltration paths that inline <style> would.
    'style-src-attr': ["'unsafe-inline'"],
    'img-src': ["'self'", 'data:'],
    'font-src': ["'self'"],
    // 'self' covers the same-origin websocket of Socket.IO in current browsers.
    'connect-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'upgrade-insecure-requests': httpsOnly ? [] : null,
  };
}
