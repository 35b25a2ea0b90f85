/**
 * Accounts and companies in figures, for the operator's home: new registrations, addresses not yet
 * verified, and whether every company has a confirmed domain (its area 2 needs one). The counts
 * use the users' `createdAt` index; the statuses and companies are few.
 */
import { Organization } from './organization-model.js';
import { User } from './user-model.js';

export interface AccountFigures {
  /** Accounts created since `since`. */
  registered: number;
  /** Accounts whose address is not yet verified. */
  unverified: number;
  organizations: number;
  /** Companies without a confirmed domain. */
  organizationsWithoutDomain: number;
}

export async function accountFigures(since: Date): Promise<AccountFigures> {
  const [registered, unverified, organizations, organizationsWithoutDomain] = await Promise.all([
    User.countDocuments({ createdAt: { $gte: since } }),
    User.countDocuments({ status: 'pending' }),
    Organization.countDocuments({}),
    Organization.countDocuments({ 'domains.0': { $exists: false } }),
  ]);
  return { registered, unverified, organizations, organizationsWithoutDomain };
}
