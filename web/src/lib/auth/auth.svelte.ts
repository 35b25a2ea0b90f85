import { getContext, setContext } from 'svelte';
import type { Identities, SessionInfo, SetupDone } from '@kis/protocol/api';
import { api, signOutIdentity, ApiFailure, setCsrfToken, setIdentity } from '$lib/api';

const CONTEXT_KEY = Symbol('auth');
/** The identity this tab acts as; per tab, and not personal data (just a slot number). */
const SLOT_KEY = 'kis.identity';

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

export type Identity = Identities['items'][number];

/**
 * Who is signed in, held in memory only: nothing personal goes to localStorage, so a shared
 * workstation keeps nothing after the tab closes. A browser may hold several identities (like a
 * mail client's accounts); each has its own server session, and this tab acts as one of them.
 */
export class Auth {
  session = $state<SessionInfo | undefined>(undefined);
  identities = $state<Identity[]>([]);
  maxIdentities = $state(1);
  slot = $state(0);
  /** False until the first check with the server is done. */
  ready = $state(false);
  /** Set when the session ended, for the login page's message. */
  signedOutReason = $state<SignedOutReason | undefined>(undefined);
  /** Epoch ms when the idle warning says the session ends; undefined when no warning is shown. */
  expiringAt = $state<number | undefined>(undefined);

  user = $derived(this.session?.user);
  isAdmin = $derived(this.session?.user.role === 'admin');

  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | undefined) {
    const saved = Number(storage?.getItem(SLOT_KEY) ?? '0');
    this.useSlot(Number.isInteger(saved) && saved >= 0 ? saved : 0);
  }

  /** The first slot without an identity, for "add another account"; undefined when all are taken. */
  get freeSlot(): number | undefined {
    for (let slot = 0; slot < this.maxIdentities; slot++) {
      if (!this.identities.some((i) => i.slot === slot)) return slot;
    }
    return undefined;
  }

  /** Asks the server which identities this browser holds, and loads the one this tab acts as. */
  async load(): Promise<void> {
    try {
      const list = await api<Identities>('GET', '/api/auth/identities');
      this.identities = list.items;
      this.maxIdentities = list.max;
      const current = list.items.find((i) => i.slot === this.slot) ?? list.items[0];
      if (!current) {
        this.apply(undefined);
        return;
      }
      this.useSlot(current.slot);
      this.apply(await api<SessionInfo>('GET', '/api/auth/session'));
    } catch (err) {
      if (!(err instanceof ApiFailure) || err.status !== 401) throw err;
      this.apply(undefined);
    } finally {
      this.ready = true;
    }
  }

  /** Signs in; `slot` adds an identity beside the ones already signed in. */
  async login(email: string, password: string, slot = this.slot): Promise<void> {
    this.useSlot(slot);
    this.apply(await api<SessionInfo>('POST', '/api/auth/login', { email, password }));
    this.signedOutReason = undefined;
    await this.load();
  }

  /** Signs in with a user name from an older product (until its company switched to e-mail logins). */
  async legacyLogin(username: string, password: string, slot = this.slot): Promise<void> {
    this.useSlot(slot);
    this.apply(await api<SessionInfo>('POST', '/api/auth/legacy-login', { username, password }));
    this.signedOutReason = undefined;
    await this.load();
  }

  /**
   * Runs a request that signs somebody in without a login (setting a password, creating an
   * administrator): in this tab's slot, or beside an identity already signed in here, in a free
   * one. Takes the session the answer carries; without one (an address range refused it), stays.
   */
  async signInBy(request: () => Promise<SetupDone>): Promise<SetupDone> {
    const previous = this.slot;
    if (this.session) this.useSlot(this.freeSlot ?? this.slot);
    try {
      const done = await request();
      if (!done.session) {
        this.useSlot(previous);
        return done;
      }
      this.apply(done.session);
      this.signedOutReason = undefined;
      await this.load();
      return done;
    } catch (err) {
      this.useSlot(previous);
      throw err;
    }
  }

  /** Acts as another of the browser's identities from now on. */
  async switchTo(slot: number): Promise<void> {
    this.useSlot(slot);
    await this.load();
  }

  /** Signs the current identity out; another one, if any, takes over. */
  async logout(): Promise<void> {
    try {
      await api('POST', '/api/auth/logout');
    } finally {
      this.ended('logout');
      await this.load();
    }
  }

  /**
   * Removes another identity from this browser: signs it out (its cookie goes, its session ends
   * on the server) and stays with the current one. Nothing else of the browser is touched.
   */
  async remove(slot: number): Promise<void> {
    if (slot === this.slot) return this.logout();
    await signOutIdentity(slot).catch(() => undefined);
    await this.load();
  }

  /** "Stay signed in" after the idle warning. */
  async extend(): Promise<void> {
    this.apply(await api<SessionInfo>('POST', '/api/auth/session/extend'));
  }

  /** The server ended the session (or a request found it gone). */
  ended(reason: SignedOutReason): void {
    this.signedOutReason = reason;
    this.identities = this.identities.filter((i) => i.slot !== this.slot);
    this.apply(undefined);
  }

  private useSlot(slot: number): void {
    this.slot = slot;
    setIdentity(slot);
    this.storage?.setItem(SLOT_KEY, String(slot));
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
