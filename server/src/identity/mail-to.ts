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

/**
 * Sends a mail meant for a user. A sub-account that asked for it (typically a plus-address such as
 * info+sales@example.com) has its mail go to the main account's address instead, marked with the
 * address it was for, in the main account's language.
 */
export async function mailToUser<K extends MailKind>(
  user: MailRecipient,
  kind: K,
  params: MailParams[K],
): Promise<void> {
  if (user.accountType === 'sub' && user.redirectToMain && user.organizationId) {
    const org = await Organization.findById(user.organizationId, { mainUserId: 1 }).lean();
    const main = org ? await User.findById(org.mainUserId, { email: 1, language: 1 }).lean() : null;
    if (main) {
      await mail.send({ to: main.email, lang: main.language as UserLanguage, kind, params, onBehalfOf: user.email });
      return;
    }
  }
  await mail.send({ to: user.email, lang: user.language as UserLanguage, kind, params });
}
