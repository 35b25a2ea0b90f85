import { getContext, setContext } from 'svelte';
import type { SessionInfo } from '@kis/protocol/api';
import { api, ApiFailure, setCsrfToken } from '$lib/api';

const CONTEXT_KEY = Symbol('auth');

/** Why the user was sent back to the login page, to say so there. */
export type SignedOutReason =
  | 'logout'
  | 'timeout'
  | 'absolute'
  | 'revoked'
  | 'ip_mismatch'
  | 'ip_not_allowed'
  | 'password_changed'
  | 'rotated'
  | 'expired';

/**
 * Who is signed in, held in memory only: nothing personal goes to localStorage, so a shared
 * workstation keeps nothing after the tab closes.
 */
export class Auth {
  session = $state<SessionInfo | undefined>(undefined);
  /** False until the first check with the server is done. */
  ready = $state(false);
  /** Set when the session ended, for the login page's message. */
  signedOutReason = $state<SignedOutReason | undefined>(undefined);
  /** Epoch ms when the idle warning says the session ends; undefined when no warning is shown. */
  expiringAt = $state<number | undefined>(undefined);

  user = $derived(this.session?.user);
  isAdmin = $derived(this.session?.user.role === 'admin');

  /** Asks the server whether this browser has a live session. */
  async load(): Promise<void> {
    try {
      this.apply(await api<SessionInfo>('GET', '/api/auth/session'));
    } catch (err) {
      if (!(err instanceof ApiFailure) || err.status !== 401) throw err;
      this.apply(undefined);
    } finally {
      this.ready = true;
    }
  }

  async login(email: string, password: string): Promise<void> {
    this.apply(await api<SessionInfo>('POST', '/api/auth/login', { email, password }));
    this.signedOutReason = undefined;
  }

  async logout(): Promise<void> {
    try {
      await api('POST', '/api/auth/logout');
    } finally {
      this.ended('logout');
    }
  }

  /** "Stay signed in" after the idle warning. */
  async extend(): Promise<void> {
    this.apply(await api<SessionInfo>('POST', '/api/auth/session/extend'));
  }

  /** The server ended the session (or a request found it gone). */
  ended(reason: SignedOutReason): void {
    this.signedOutReason = reason;
    this.apply(undefined);
  }

  private apply(session: SessionInfo | undefined): void {
    this.session = session;
    this.expiringAt = undefined;
    setCsrfToken(session?.csrfToken);
  }
}

export function setAuth(auth: Auth): Auth {
  return setContext(CONTEXT_KEY, auth);
}

export function getAuth(): Auth {
  return getContext<Auth>(CONTEXT_KEY);
}
