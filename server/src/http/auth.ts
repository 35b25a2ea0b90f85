import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Invalid } from '../errors.js';
import type { Caller } from '../identity/service.js';
import { normalizeIp } from '../identity/ip.js';
import * as sessions from '../identity/sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link requireSession} on routes that need a login. */
    kisSession?: sessions.ActiveSession;
  }
}

/** Methods that change nothing and so need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * How many identities one browser may hold at once (a mail client's account switcher). Each has
 * its own session and cookie; a request names the one it acts as in the X-KIS-Identity header.
 */
export const MAX_IDENTITIES = 5;

/** How the session cookies are named and flagged. */
export interface CookiePolicy {
  /** The cookie of identity 0: `__Host-kis_session` when Secure (the prefix demands it), else `kis_session`. */
  name: string;
  secure: boolean;
  /** The cookie of an identity slot: the base name, with `_<slot>` for slots above 0. */
  nameFor(slot: number): string;
}

/** The cookie policy for a deployment: Secure, with the __Host- prefix, whenever HTTPS is promised. */
export function cookiePolicy(secure: boolean): CookiePolicy {
  const name = secure ? '__Host-kis_session' : 'kis_session';
  return { name, secure, nameFor: (slot) => (slot === 0 ? name : `${name}_${slot}`) };
}

/**
 * The identity slot a request acts as (X-KIS-Identity, default 0); anything else is refused. A
 * download is a plain link, which sends no headers: a GET may name the slot as `?identity=N`.
 */
export function identitySlot(request: FastifyRequest): number {
  const header =
    request.headers['x-kis-identity'] ??
    (request.method === 'GET'
      ? (new URLSearchParams(request.url.split('?')[1] ?? '').get('identity') ?? undefined)
      : undefined);
  if (header === undefined) return 0;
  const slot = typeof header === 'string' && /^\d$/.test(header) ? Number(header) : -1;
  if (slot < 0 || slot >= MAX_IDENTITIES) throw new Invalid('identity_invalid');
  return slot;
}

/** The session cookie of the identity a request acts as. */
export function sessionCookie(request: FastifyRequest, policy: CookiePolicy): string | undefined {
  return request.cookies[policy.nameFor(identitySlot(request))];
}

/** The client's address as the session binding sees it (proxy headers only when trusted). */
export function clientIp(request: FastifyRequest): string {
  return normalizeIp(request.ip);
}

/**
 * The header the portal sets on the requests its pages make by themselves (polling, reloading
 * after a push): they do not keep a session alive, only what the user does does.
 */
export const BACKGROUND_HEADER = 'x-kis-background';

/** True for a request the page made by itself rather than for something the user did. */
export function isBackground(request: FastifyRequest): boolean {
  return request.headers[BACKGROUND_HEADER] === '1';
}

/**
 * An onRequest hook that admits only requests with a live session bound to this client, and a CSRF
 * token on anything but GET/HEAD/OPTIONS. It runs before the body is read or validated: a caller
 * without a session gets 401 whatever it sends, learns nothing about the input a route expects,
 * and costs no body parsing. A background request is checked alike but does not count as activity,
 * so a page left open and polling does not keep an abandoned session alive.
 */
export function requireSession(policy: CookiePolicy) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers['x-csrf-token'];
    request.kisSession = await sessions.authenticate({
      cookie: sessionCookie(request, policy),
      ip: clientIp(request),
      csrfToken: typeof header === 'string' ? header : undefined,
      requireCsrf: !SAFE_METHODS.has(request.method),
      activity: !isBackground(request),
    });
  };
}

/** The caller of a request that passed {@link requireSession}. */
export function callerOf(request: FastifyRequest): Caller {
  const session = request.kisSession;
  if (!session) throw new Error('route is missing requireSession');
  const { user } = session;
  return {
    userId: user.id,
    role: user.role,
    email: user.email,
    organizationId: user.organizationId,
    accountType: user.accountType,
    rights: user.rights,
    ip: clientIp(request),
    sessionId: session.id,
  };
}

/** Sets an identity's session cookie: HttpOnly, SameSite=Strict, host-only, Secure under HTTPS. */
export function setSessionCookie(reply: FastifyReply, policy: CookiePolicy, value: string, slot = 0): void {
  reply.setCookie(policy.nameFor(slot), value, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: policy.secure,
  });
}

/** Removes an identity's session cookie from the browser. */
export function clearSessionCookie(reply: FastifyReply, policy: CookiePolicy, slot = 0): void {
  reply.clearCookie(policy.nameFor(slot), { path: '/', httpOnly: true, sameSite: 'strict', secure: policy.secure });
}
