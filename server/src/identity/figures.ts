/**
 * Accounts and companies in figures, for the operator's home: people who registered themselves
 * lately (not invited, imported or set up) and how many of them have not verified their address
 * yet, and whether every company has a confirmed domain (its area 2 needs one). Registrations are
 * counted a UTC day at a time by the `registeredDay` index: an equality FerretDB answers from its
 * index, where a range on a date read every user. Companies are few.
 */
import { Forbidden } from '../errors.js';
import { Organization } from './organization-model.js';
import { User } from './user-model.js';

export interface AccountFigures {
  /** People who registered themselves in the last `days` UTC days, today included. */
  registered: number;
  /** Of those, people who have not verified their address yet. */
  unverified: number;
  organizations: number;
  /** Companies without a confirmed domain. */
  organizationsWithoutDomain: number;
}

export async function accountFigures(caller: { role: string }, now: Date, days: number): Promise<AccountFigures> {
  if (caller.role !== 'admin') throw new Forbidden('admin_only');
  const dayKeys = Array.from({ length: days }, (_, i) =>
    new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10),
  );
  const [perDay, organizations, organizationsWithoutDomain] = await Promise.all([
    Promise.all(
      dayKeys.map((registeredDay) =>
        Promise.all([
          User.countDocuments({ registeredDay }),
          User.countDocuments({ registeredDay, status: 'pending' }),
        ]),
      ),
    ),
    Organization.countDocuments({}),
    Organization.countDocuments({ 'domains.0': { $exists: false } }),
  ]);
  const registered = perDay.reduce((sum, [all]) => sum + all, 0);
  const unverified = perDay.reduce((sum, [, pending]) => sum + pending, 0);
  return { registered, unverified, organizations, organizationsWithoutDomain };
}
