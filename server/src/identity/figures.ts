/**
 * Accounts and companies in figures, for the operator's home: people who registered themselves
 * lately (not invited, imported or set up) and how many of them have not verified their address
 * yet, and whether every company has a confirmed domain (its area 2 needs one). Both counts go by
 * the `registeredAt` index; companies are few.
 */
import { Forbidden } from '../errors.js';
import { Organization } from './organization-model.js';
import { User } from './user-model.js';

export interface AccountFigures {
  /** People who registered themselves since `since`. */
  registered: number;
  /** Of those, people who have not verified their address yet. */
  unverified: number;
  organizations: number;
  /** Companies without a confirmed domain. */
  organizationsWithoutDomain: number;
}

export async function accountFigures(caller: { role: string }, since: Date): Promise<AccountFigures> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const [registered, unverified, organizations, organizationsWithoutDomain] = await Promise.all([
    User.countDocuments({ registeredAt: { $gte: since } }),
    User.countDocuments({ registeredAt: { $gte: since }, status: 'pending' }),
    Organization.countDocuments({}),
    Organization.countDocuments({ 'domains.0': { $exists: false } }),
  ]);
  return { registered, unverified, organizations, organizationsWithoutDomain };
}
