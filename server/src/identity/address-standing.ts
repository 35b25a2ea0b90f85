import { isObjectId } from '../db/query.js';
import { organizationOfDomain } from './organizations.js';
import { User } from './user-model.js';

/*
 * What an account's address entitles it to: an address counts only once a code or link mailed to
 * it was used (`emailVerifiedAt`), never because an account was made for it.
 */

/** What an account's address opens in the customer areas (see {@link readerAddressOf}). */
export interface ReaderAddress {
  /** A code or link reached the address: entries left for it before the account existed are its. */
  verified: boolean;
  /** The confirmed company domain whose information (area 2) the account reads, or null. */
  companyDomain: string | null;
}

/**
 * What an account's address entitles it to read. Entries left for an address (area 1) and a
 * company domain's information (area 2) need an address that a code or link reached. Area 2 also
 * needs the domain to be confirmed for the account's own company; a person in no company reads
 * the area of the company whose confirmed domain their proven address is at (they read that
 * domain's mail). An account of one company never reads another company's area 2, whatever
 * address it was given.
 */
export async function readerAddressOf(userId: string): Promise<ReaderAddress> {
  const user = isObjectId(userId)
    ? await User.findById(userId, { emailLower: 1, emailVerifiedAt: 1, organizationId: 1 }).lean()
    : null;
  if (!user?.emailVerifiedAt) return { verified: false, companyDomain: null };
  const domain = user.emailLower.slice(user.emailLower.lastIndexOf('@') + 1);
  const org = await organizationOfDomain(domain);
  const ownCompany = org !== undefined && (!user.organizationId || org.id === user.organizationId);
  return { verified: true, companyDomain: ownCompany ? domain : null };
}

/**
 * Which companies' records of an account's address the account may export or erase for itself:
 * every company's once the address is proven (they are records about the person), otherwise only
 * its own company's. An account made for somebody else's address reaches nothing of other companies.
 */
export async function recordScopeOf(
  userId: string,
  organizationId: string | undefined,
): Promise<{ organizationId: string | null } | 'everywhere'> {
  const { verified } = await readerAddressOf(userId);
  return verified ? 'everywhere' : { organizationId: organizationId ?? null };
}
