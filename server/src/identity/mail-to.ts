import { isObjectId } from '../db/query.js';
import * as mail from '../mail/service.js';
import type { MailKind, MailParams } from '../mail/templates.js';
import { Organization } from './organization-model.js';
import { User, type UserLanguage } from './user-model.js';

/** The fields of a user that decide where their mail goes. */
export interface MailRecipient {
  email: string;
  language: string;
  accountType?: string | null;
  organizationId?: string | null;
  redirectToMain?: boolean | null;
}

function domainOf(emailLower: string): string {
  return emailLower.slice(emailLower.lastIndexOf('@') + 1);
}

/**
 * The address a plus-address stands for (`info+sales@example.com` → `info@example.com`); undefined
 * for an address without a tag.
 */
export function plusBase(emailLower: string): string | undefined {
  const at = emailLower.lastIndexOf('@');
  const plus = emailLower.indexOf('+');
  if (plus <= 0 || plus > at) return undefined;
  return `${emailLower.slice(0, plus)}${emailLower.slice(at)}`;
}

/**
 * Whether a company may have an address's mail redirected to its main account. Only where the
 * company already controls the mailbox: a plus-address of an address that an account of the same
 * company verified with a code or link, or an address at a domain an operator confirmed for the
 * company. Anything else would hand the company the codes and links meant for a stranger.
 *
 * `alsoVerified` lists addresses that will be verified in the same step (a legacy company's new
 * addresses): accepted here, they still redirect only once verified, as {@link mailToUser} checks
 * again at sending.
 */
export async function mayRedirect(
  emailLower: string,
  organizationId: string,
  alsoVerified: readonly string[] = [],
): Promise<boolean> {
  if (!isObjectId(organizationId)) return false;
  const org = await Organization.findById(organizationId, { domains: 1 }).lean();
  if (!org) return false;
  const domain = domainOf(emailLower);
  if ((org.domains ?? []).some((d) => d.domain === domain)) return true;
  const base = plusBase(emailLower);
  if (!base) return false;
  if (alsoVerified.includes(base)) return true;
  return (await User.exists({ emailLower: base, organizationId, emailVerifiedAt: { $exists: true } })) !== null;
}

/**
 * Sends a mail meant for a user. A sub-account that asked for it (typically a plus-address such as
 * info+sales@example.com) has its mail go to the main account's address instead, marked with the
 * address it was for, in the main account's language — as long as {@link mayRedirect} still holds;
 * otherwise the mail goes to the address itself.
 */
export async function mailToUser<K extends MailKind>(
  user: MailRecipient,
  kind: K,
  params: MailParams[K],
): Promise<void> {
  if (
    user.accountType === 'sub' &&
    user.redirectToMain &&
    user.organizationId &&
    (await mayRedirect(user.email.toLowerCase(), user.organizationId))
  ) {
    const org = await Organization.findById(user.organizationId, { mainUserId: 1 }).lean();
    const main = org ? await User.findById(org.mainUserId, { email: 1, language: 1 }).lean() : null;
    if (main) {
      await mail.send({ to: main.email, lang: main.language as UserLanguage, kind, params, onBehalfOf: user.email });
      return;
    }
  }
  await mail.send({ to: user.email, lang: user.language as UserLanguage, kind, params });
}
