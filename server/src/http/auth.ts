import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
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

/** How the session cookie is named and flagged. */
export interface CookiePolicy {
  /** `__Host-kis_session` when Secure (the prefix demands it), else `kis_session`. */
  name: string;
  secure: boolean;
}

/** The cookie policy for a deployment: Secure, with the __Host- prefix, whenever HTTPS is promised. */
export function cookiePolicy(secure: boolean): CookiePolicy {
  return { name: secure ? '__Host-kis_session' : 'kis_session', secure };
}

/** The client's address as the session binding sees it (proxy headers only when trusted). */
export function clientIp(request: FastifyRequest): string {
  return normalizeIp(request.ip);
}

/**
 * A preHandler that admits only requests with a live session bound to this client, and a CSRF
 * token on anything but GET/HEAD/OPTIONS.
 */
export function requireSession(policy: CookiePolicy) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers['x-csrf-token'];
    request.kisSession = await sessions.authenticate({
      cookie: request.cookies[policy.name],
      ip: clientIp(request),
      csrfToken: typeof header === 'string' ? header : undefined,
      requireCsrf: !SAFE_METHODS.has(request.method),
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

/** Sets the session cookie: HttpOnly, SameSite=Strict, host-only, Secure under HTTPS. */
export function setSessionCookie(reply: FastifyReply, policy: CookiePolicy, value: string): void {
  reply.setCookie(policy.name, value, { path: '/', httpOnly: true, sameSite: 'strict', secure: policy.secure });
}

/** Removes the session cookie from the browser. */
export function clearSessionCookie(reply: FastifyReply, policy: CookiePolicy): void {
  reply.clearCookie(policy.name, { path: '/', httpOnly: true, sameSite: 'strict', secure: policy.secure });
}
