import { z } from 'zod';
import { atLeast, atMost } from '../length.js';

/** Contracts of /api/auth, /api/account and /api/admin. */

const email = z.email({ error: 'email_invalid' }).check(atMost(254));
/** Length is checked by the server's policy (it counts Unicode code points); this only bounds the payload. */
const password = z.string().check(atLeast(1)).check(atMost(1024));
const language = z.enum(['de', 'en']);

export const publicUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  phone: z.string(),
  language,
  role: z.enum(['admin', 'customer']),
  status: z.enum(['pending', 'active', 'disabled']),
  createdAt: z.string(),
  lastLoginAt: z.string().nullable(),
  /** CIDR ranges the user may work from; empty: anywhere. */
  allowedIpRanges: z.array(z.string()),
});
export type PublicUser = z.infer<typeof publicUserSchema>;

export const registerRequestSchema = z.object({ email, language: language.default('de') });
export const acceptedSchema = z.object({ status: z.literal('check_mail') });

export const verifyRequestSchema = z.union([
  z.object({ purpose: z.enum(['register', 'reset']), email, code: z.string().regex(/^\d{6}$/, 'code_format') }),
  z.object({ token: z.string().check(atLeast(20)).check(atMost(200)) }),
]);
export const verifyResponseSchema = z.object({
  setupToken: z.string(),
  email: z.string(),
  purpose: z.enum(['register', 'reset', 'invite']),
  /** A company invited this address before the person registered: accept or refuse when setting the password. */
  invitation: z.object({ organization: z.string() }).nullable(),
});

export const setPasswordRequestSchema = z.object({
  setupToken: z.string().check(atLeast(20)).check(atMost(200)),
  password,
  name: z.string().check(atMost(200)).optional(),
  /** The answer to a company's invitation (see verifyResponseSchema.invitation). */
  invitation: z.enum(['accept', 'refuse']).optional(),
});

export const forgotPasswordRequestSchema = z.object({ email });

export const loginRequestSchema = z.object({ email: z.string().check(atLeast(1)).check(atMost(254)), password });

export const sessionInfoSchema = z.object({
  user: publicUserSchema.pick({ id: true, email: true, name: true, role: true, language: true }).extend({
    organizationId: z.string().nullable(),
    accountType: z.enum(['main', 'sub']).nullable(),
    rights: z.array(z.string()),
  }),
  /** Send as X-CSRF-Token on every state-changing request and in the socket handshake. */
  csrfToken: z.string(),
  idleExpiresAt: z.number(),
  absoluteExpiresAt: z.number(),
  warningSeconds: z.number(),
});
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

/**
 * A password set (registration, invitation, reset) or an administrator created: the person is
 * signed in (the session cookie is set), unless their allowed address ranges refuse this address.
 */
export const setupDoneSchema = z.object({ email: z.string(), session: sessionInfoSchema.nullable() });
export type SetupDone = z.infer<typeof setupDoneSchema>;

export const identitiesSchema = z.object({
  items: z.array(
    z.object({
      slot: z.number().int(),
      user: sessionInfoSchema.shape.user,
      csrfToken: z.string(),
    }),
  ),
  /** How many identities one browser may hold. */
  max: z.number().int(),
});
export type Identities = z.infer<typeof identitiesSchema>;

export const profileUpdateSchema = z.object({
  name: z.string().check(atMost(200)).optional(),
  phone: z
    .string()
    .check(atMost(40))
    .regex(/^[+0-9 ()/-]*$/, 'phone_invalid')
    .optional(),
  language: language.optional(),
});

export const emailChangeSchema = z.object({ newEmail: email, password });
export const emailConfirmSchema = z.object({ code: z.string().regex(/^\d{6}$/, 'code_format') });

export const passwordChangeSchema = z.object({ current: password, next: password });

export const sessionListSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      ip: z.string(),
      userAgent: z.string(),
      createdAt: z.string(),
      lastSeenAt: z.string(),
      current: z.boolean(),
    }),
  ),
});

export type SessionList = z.infer<typeof sessionListSchema>;

export const pageQuerySchema = z.object({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(25),
});

export const adminUsersQuerySchema = pageQuerySchema.extend({ q: z.string().check(atMost(200)).optional() });
export const adminUsersResponseSchema = z.object({
  items: z.array(publicUserSchema.extend({ lockedUntil: z.string().nullable() })),
  total: z.number(),
});

export const userStatusSchema = z.object({ status: z.enum(['active', 'disabled']) });

export const auditQuerySchema = pageQuerySchema.extend({
  action: z.string().check(atMost(100)).optional(),
  outcome: z.enum(['success', 'failure', 'denied']).optional(),
  text: z.string().check(atMost(200)).optional(),
});
export const auditResponseSchema = z.object({
  items: z.array(
    z.object({
      seq: z.number(),
      at: z.string(),
      actorId: z.string().nullable(),
      actorEmail: z.string().nullable(),
      ip: z.string().nullable(),
      action: z.string(),
      target: z.string().nullable(),
      outcome: z.enum(['success', 'failure', 'denied']),
      details: z.record(z.string(), z.unknown()).nullable(),
    }),
  ),
  total: z.number(),
});

export const outboxQuerySchema = pageQuerySchema.extend({ status: z.enum(['queued', 'sent', 'dropped']).optional() });
export const outboxResponseSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      to: z.string(),
      subject: z.string(),
      text: z.string(),
      kind: z.string(),
      status: z.enum(['queued', 'sent', 'dropped']),
      attempts: z.number(),
      lastError: z.string().nullable(),
      createdAt: z.string(),
      sentAt: z.string().nullable(),
    }),
  ),
  total: z.number(),
  mailConfigured: z.boolean(),
});

export const adminSetupCheckSchema = z.object({ token: z.string().check(atLeast(20)).check(atMost(200)) });
export const adminSetupCheckResponseSchema = z.object({ valid: z.boolean(), email: z.string().nullable() });
export const adminSetupRequestSchema = z.object({
  token: z.string().check(atLeast(20)).check(atMost(200)),
  email,
  name: z.string().check(atLeast(1)).check(atMost(200)),
  password,
});

export const ipRangesUpdateSchema = z.object({
  ranges: z.array(z.string().check(atMost(64))).check(atMost(100)),
  /** The admin's own password again: access changes need a fresh proof. */
  password,
});

export const okSchema = z.object({ ok: z.literal(true) });

// ─── Organizations and sub-accounts ──────────────────────────────────────────────────────────────

export const RIGHT_NAMES = [
  'read_areas',
  'edit_texts',
  'manage_files',
  'see_depots',
  'operate_depots',
  'manage_invoices',
] as const;
export const rightSchema = z.enum(RIGHT_NAMES);

export const organizationSchema = z.object({
  id: z.string(),
  name: z.string(),
  mainUserId: z.string(),
  mainEmail: z.string().nullable(),
  domains: z.array(z.object({ domain: z.string(), confirmedAt: z.string() })),
  createdAt: z.string(),
});
export type OrganizationInfo = z.infer<typeof organizationSchema>;

export const memberSchema = publicUserSchema.extend({
  accountType: z.enum(['main', 'sub']),
  rights: z.array(rightSchema),
  redirectToMain: z.boolean(),
});
export type Member = z.infer<typeof memberSchema>;

/** The name is trimmed first, as the service stores it: a blank name is refused, not stored empty. */
export const organizationCreateSchema = z.object({
  name: z.string().trim().check(atLeast(1)).check(atMost(200)),
  mainEmail: email,
});
export const organizationListSchema = z.object({ items: z.array(organizationSchema), total: z.number() });
export const organizationDetailSchema = z.object({ organization: organizationSchema, members: z.array(memberSchema) });
export const domainConfirmSchema = z.object({ domain: z.string().check(atLeast(3)).check(atMost(253)) });

export const subAccountCreateSchema = z.object({
  email,
  name: z.string().check(atMost(200)).default(''),
  rights: z.array(rightSchema).check(atMost(RIGHT_NAMES.length)),
  /** Send this account's mail to the main account (for plus-addresses). */
  redirectToMain: z.boolean().default(false),
});
/**
 * The answer to creating a sub-account, the same whether or not the address already has an
 * account (its owner is told by mail instead; a new address shows in the members list as pending).
 */
export const subAccountCreatedSchema = z.object({ status: z.literal('invited') });
export const subAccountUpdateSchema = z.object({
  name: z.string().check(atMost(200)).optional(),
  rights: z.array(rightSchema).check(atMost(RIGHT_NAMES.length)).optional(),
  redirectToMain: z.boolean().optional(),
  status: z.enum(['active', 'disabled']).optional(),
  /** Required when rights change: the caller's own password again. */
  password: password.optional(),
});

export const userDetailSchema = z.object({
  user: publicUserSchema.extend({
    lockedUntil: z.string().nullable(),
    accountType: z.enum(['main', 'sub']).nullable(),
    rights: z.array(z.string()),
    redirectToMain: z.boolean(),
  }),
  organization: z.object({ id: z.string(), name: z.string() }).nullable(),
  sessions: sessionListSchema.shape.items,
  audit: auditResponseSchema.shape.items,
});
export type UserDetail = z.infer<typeof userDetailSchema>;
