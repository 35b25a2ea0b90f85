/*
 * Every HTTP route of sign-up, login, sessions and the own account, with their schemas. Long because the
 * routes are many and each is only parse, call, shape; issue 21 splits them along the service's split.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  acceptedSchema,
  adminSetupCheckResponseSchema,
  adminSetupCheckSchema,
  adminSetupRequestSchema,
  adminUsersQuerySchema,
  adminUsersResponseSchema,
  apiErrorSchema,
  emailChangeSchema,
  emailConfirmSchema,
  forgotPasswordRequestSchema,
  identitiesSchema,
  ipRangesUpdateSchema,
  loginRequestSchema,
  okSchema,
  passwordChangeSchema,
  profileUpdateSchema,
  publicUserSchema,
  registerRequestSchema,
  sessionInfoSchema,
  sessionListSchema,
  setPasswordRequestSchema,
  setupDoneSchema,
  verifyRequestSchema,
  verifyResponseSchema,
  userDetailSchema,
  userStatusSchema,
  type Identities,
  type SessionInfo,
  type SetupDone,
} from '@kis/protocol/api';
import {
  MAX_IDENTITIES,
  callerOf,
  clearSessionCookie,
  clientIp,
  identitySlot,
  requireSession,
  sessionCookie,
  setSessionCookie,
  type CookiePolicy,
} from '../http/auth.js';
import * as identity from './service.js';
import * as legacy from './legacy.js';
import * as sessions from './sessions.js';

/** What the identity routes need from the composition root. */
export interface IdentityRouteOptions {
  cookie: CookiePolicy;
  warningSeconds: number;
}

const errors = {
  400: apiErrorSchema,
  401: apiErrorSchema,
  403: apiErrorSchema,
  404: apiErrorSchema,
  409: apiErrorSchema,
  429: apiErrorSchema,
};

/** What the browser learns about the signed-in user: enough to show the right navigation. */
function publicSessionUser(user: sessions.SessionUser): SessionInfo['user'] {
  const { id, email, name, role, language, rights } = user;
  return {
    id,
    email,
    name,
    role,
    language,
    rights,
    organizationId: user.organizationId ?? null,
    accountType: user.accountType ?? null,
  };
}

function sessionInfo(session: sessions.ActiveSession, csrfToken: string, warningSeconds: number): SessionInfo {
  return {
    user: publicSessionUser(session.user),
    csrfToken,
    idleExpiresAt: session.idleExpiresAt,
    absoluteExpiresAt: session.absoluteExpiresAt,
    warningSeconds,
  };
}

/** Registration, verification, passwords, login and logout: /api/auth. */
export const authRoutes: FastifyPluginAsyncZod<IdentityRouteOptions> = async (app, options) => {
  const guard = requireSession(options.cookie);

  /** After a password is set: signed in in this browser's slot, as a login would (no second login). */
  const signedInAfterSetup = async (
    request: FastifyRequest,
    reply: FastifyReply,
    user: { id: string; email: string },
  ): Promise<SetupDone> => {
    const created = await identity.signInAfterSetup(user.id, {
      ip: clientIp(request),
      userAgent: request.headers['user-agent'] ?? '',
      previousCookie: sessionCookie(request, options.cookie),
    });
    if (!created) return { email: user.email, session: null };
    setSessionCookie(reply, options.cookie, created.cookie, identitySlot(request));
    // Signed in by address, as the login does: an invited account of an older product has switched.
    await legacy.loggedInByEmail(user.id);
    return { email: user.email, session: sessionInfo(created.session, created.csrfToken, options.warningSeconds) };
  };

  app.post(
    '/api/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start a registration (same answer for every address)',
        body: registerRequestSchema,
        response: { 202: acceptedSchema, ...errors },
      },
    },
    async (request, reply) => {
      await identity.register({ ...request.body, ip: clientIp(request) });
      return reply.status(202).send({ status: 'check_mail' as const });
    },
  );

  app.post(
    '/api/auth/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Check a mailed code or link; returns a token to set a password',
        body: verifyRequestSchema,
        response: {
          200: verifyResponseSchema,
          ...errors,
        },
      },
    },
    async (request) => identity.verify({ ...request.body, ip: clientIp(request) }),
  );

  app.post(
    '/api/auth/password/setup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set the password after verifying; signs the person in',
        body: setPasswordRequestSchema,
        response: { 200: setupDoneSchema, ...errors },
      },
    },
    async (request, reply) => {
      const user = await identity.setPassword({ ...request.body, ip: clientIp(request) });
      return signedInAfterSetup(request, reply, user);
    },
  );

  app.post(
    '/api/auth/password/forgot',
    {
      schema: {
        tags: ['auth'],
        summary: 'Mail a reset code (same answer for every address)',
        body: forgotPasswordRequestSchema,
        response: { 202: acceptedSchema, ...errors },
      },
    },
    async (request, reply) => {
      await identity.forgotPassword({ email: request.body.email, ip: clientIp(request) });
      return reply.status(202).send({ status: 'check_mail' as const });
    },
  );

  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in; sets the session cookie',
        body: loginRequestSchema,
        response: { 200: sessionInfoSchema, ...errors },
      },
    },
    async (request, reply) => {
      const created = await identity.login({
        ...request.body,
        ip: clientIp(request),
        userAgent: request.headers['user-agent'] ?? '',
        previousCookie: sessionCookie(request, options.cookie),
      });
      setSessionCookie(reply, options.cookie, created.cookie, identitySlot(request));
      // An account from an older product that logs in by address for the first time has switched.
      await legacy.loggedInByEmail(created.session.user.id);
      return sessionInfo(created.session, created.csrfToken, options.warningSeconds);
    },
  );

  app.post(
    '/api/auth/legacy-login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with a user name from an older product (until its company has switched)',
        body: z.object({ username: z.string().trim().min(1).max(64), password: z.string().min(1).max(256) }),
        response: { 200: sessionInfoSchema, ...errors },
      },
    },
    async (request, reply) => {
      const created = await legacy.legacyLogin({
        ...request.body,
        ip: clientIp(request),
        userAgent: request.headers['user-agent'] ?? '',
        previousCookie: sessionCookie(request, options.cookie),
      });
      setSessionCookie(reply, options.cookie, created.cookie, identitySlot(request));
      return sessionInfo(created.session, created.csrfToken, options.warningSeconds);
    },
  );

  // Both answer with the session as it is after this request (which counts as activity).
  const currentSession = async (request: FastifyRequest): Promise<SessionInfo> =>
    sessionInfo(
      request.kisSession as sessions.ActiveSession,
      sessions.csrfTokenFor(sessionCookie(request, options.cookie) ?? ''),
      options.warningSeconds,
    );

  app.get(
    '/api/auth/session',
    {
      schema: {
        tags: ['auth'],
        summary: 'The current session and its CSRF token',
        response: { 200: sessionInfoSchema, ...errors },
      },
      onRequest: guard,
    },
    currentSession,
  );

  app.post(
    '/api/auth/session/extend',
    {
      schema: {
        tags: ['auth'],
        summary: 'Stay signed in (after the idle warning)',
        response: { 200: sessionInfoSchema, ...errors },
      },
      onRequest: guard,
    },
    currentSession,
  );

  app.get(
    '/api/auth/identities',
    {
      schema: {
        tags: ['auth'],
        summary: 'The identities signed in in this browser, each with its slot and CSRF token',
        response: { 200: identitiesSchema, ...errors },
      },
    },
    async (request, reply) => {
      const items: Identities['items'] = [];
      for (let slot = 0; slot < MAX_IDENTITIES; slot++) {
        const cookie = request.cookies[options.cookie.nameFor(slot)];
        if (!cookie) continue;
        try {
          // Listing is not activity: a background identity may still time out.
          const session = await sessions.authenticate({
            cookie,
            ip: clientIp(request),
            requireCsrf: false,
            activity: false,
          });
          items.push({ slot, user: publicSessionUser(session.user), csrfToken: sessions.csrfTokenFor(cookie) });
        } catch {
          clearSessionCookie(reply, options.cookie, slot);
        }
      }
      return { items, max: MAX_IDENTITIES };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      schema: { tags: ['auth'], summary: 'End the session on the server', response: { 200: okSchema, ...errors } },
      onRequest: guard,
    },
    async (request, reply) => {
      await identity.logout(callerOf(request));
      clearSessionCookie(reply, options.cookie, identitySlot(request));
      return { ok: true as const };
    },
  );

  app.post(
    '/api/auth/admin-setup/check',
    {
      schema: {
        tags: ['auth'],
        summary: 'Whether an administrator set-up link is valid',
        body: adminSetupCheckSchema,
        response: { 200: adminSetupCheckResponseSchema, ...errors },
      },
    },
    async (request) => identity.checkAdminSetupLink(request.body.token),
  );

  app.post(
    '/api/auth/admin-setup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an administrator from a set-up link; signs them in',
        body: adminSetupRequestSchema,
        response: { 200: setupDoneSchema, ...errors },
      },
    },
    async (request, reply) => {
      const user = await identity.completeAdminSetup({ ...request.body, ip: clientIp(request) });
      return signedInAfterSetup(request, reply, user);
    },
  );
};

/** The caller's own account: /api/account. */
export const accountRoutes: FastifyPluginAsyncZod<IdentityRouteOptions> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));

  app.get(
    '/api/account',
    { schema: { tags: ['account'], summary: 'My account', response: { 200: publicUserSchema, ...errors } } },
    async (request) => identity.getAccount(callerOf(request)),
  );

  app.patch(
    '/api/account',
    {
      schema: {
        tags: ['account'],
        summary: 'Change my name, phone or language',
        body: profileUpdateSchema,
        response: { 200: publicUserSchema, ...errors },
      },
    },
    async (request) => identity.updateProfile(callerOf(request), request.body),
  );

  app.post(
    '/api/account/password',
    {
      schema: {
        tags: ['account'],
        summary: 'Change my password (ends my other sessions)',
        body: passwordChangeSchema,
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await identity.changePassword(callerOf(request), request.body);
      return { ok: true as const };
    },
  );

  app.post(
    '/api/account/email',
    {
      schema: {
        tags: ['account'],
        summary: 'Start changing my e-mail address (password again; a code goes to the new address)',
        body: emailChangeSchema,
        response: { 202: acceptedSchema, ...errors },
      },
    },
    async (request, reply) => {
      await identity.requestEmailChange(callerOf(request), request.body);
      return reply.status(202).send({ status: 'check_mail' as const });
    },
  );

  app.post(
    '/api/account/email/confirm',
    {
      schema: {
        tags: ['account'],
        summary: 'Confirm the new address with its code',
        body: emailConfirmSchema,
        response: { 200: publicUserSchema, ...errors },
      },
    },
    async (request) => identity.confirmEmailChange(callerOf(request), request.body),
  );

  app.get(
    '/api/account/sessions',
    { schema: { tags: ['account'], summary: 'My live sessions', response: { 200: sessionListSchema, ...errors } } },
    async (request) => ({
      items: await identity.listOwnSessions(callerOf(request)),
    }),
  );

  app.post(
    '/api/account/sessions/end-others',
    {
      schema: {
        tags: ['account'],
        summary: 'Sign out all my other sessions',
        response: { 200: z.object({ ended: z.number() }), ...errors },
      },
    },
    async (request) => ({ ended: await identity.endOtherSessions(callerOf(request)) }),
  );

  app.delete(
    '/api/account/sessions/:id',
    {
      schema: {
        tags: ['account'],
        summary: 'Sign out one of my sessions',
        params: z.object({ id: z.string().max(40) }),
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await identity.endOwnSession(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );
};

/** User administration: /api/admin/users. Rights are checked in the service. */
export const adminUserRoutes: FastifyPluginAsyncZod<IdentityRouteOptions> = async (app, options) => {
  app.addHook('onRequest', requireSession(options.cookie));

  app.get(
    '/api/admin/users',
    {
      schema: {
        tags: ['admin'],
        summary: 'Users, searchable, one page',
        querystring: adminUsersQuerySchema,
        response: { 200: adminUsersResponseSchema, ...errors },
      },
    },
    async (request) => identity.listUsers(callerOf(request), request.query),
  );

  const idParams = z.object({ id: z.string().max(40) });

  app.get(
    '/api/admin/users/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'One user: sessions, lockout, organization, recent audit entries',
        params: idParams,
        response: { 200: userDetailSchema, ...errors },
      },
    },
    async (request) => identity.getUserDetail(callerOf(request), request.params.id),
  );

  app.post(
    '/api/admin/users/:id/sessions/end-all',
    {
      schema: {
        tags: ['admin'],
        summary: 'End all sessions of a user',
        params: idParams,
        response: { 200: z.object({ ended: z.number() }), ...errors },
      },
    },
    async (request) => ({ ended: await identity.endUserSessions(callerOf(request), request.params.id) }),
  );

  app.delete(
    '/api/admin/users/:id/sessions/:sessionId',
    {
      schema: {
        tags: ['admin'],
        summary: 'End one session of a user',
        params: z.object({ id: z.string().max(40), sessionId: z.string().max(40) }),
        response: { 200: z.object({ ended: z.number() }), ...errors },
      },
    },
    async (request) => ({
      ended: await identity.endUserSessions(callerOf(request), request.params.id, request.params.sessionId),
    }),
  );

  app.put(
    '/api/admin/users/:id/status',
    {
      schema: {
        tags: ['admin'],
        summary: 'Disable or re-enable an account',
        params: idParams,
        body: userStatusSchema,
        response: { 200: publicUserSchema, ...errors },
      },
    },
    async (request) => identity.setUserStatus(callerOf(request), request.params.id, request.body.status),
  );

  app.put(
    '/api/admin/users/:id/ip-ranges',
    {
      schema: {
        tags: ['admin'],
        summary: 'Set the address ranges a user may work from (asks for the admin password)',
        params: z.object({ id: z.string().max(40) }),
        body: ipRangesUpdateSchema,
        response: { 200: publicUserSchema, ...errors },
      },
    },
    async (request) => identity.setAllowedIpRanges(callerOf(request), request.params.id, request.body),
  );

  app.post(
    '/api/admin/users/:id/unlock',
    {
      schema: {
        tags: ['admin'],
        summary: 'Lift a login lockout',
        params: z.object({ id: z.string().max(40) }),
        response: { 200: okSchema, ...errors },
      },
    },
    async (request) => {
      await identity.unlockUser(callerOf(request), request.params.id);
      return { ok: true as const };
    },
  );
};
