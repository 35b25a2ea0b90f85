import { goto } from '$app/navigation';
import { resolve } from '$app/paths';
import type { Auth } from './auth.svelte';

/**
 * Sends a visitor without a session to the login page (call in a page's script). The server
 * refuses the data anyway; this only spares the visitor an empty page.
 */
export function requireLogin(auth: Auth): void {
  $effect(() => {
    if (auth.ready && !auth.user) void goto(resolve('/anmelden'));
  });
}
