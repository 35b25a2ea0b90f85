/**
 * Which depots a caller may see: as a test for depots held in memory, and as a database filter for
 * the others. Both come from the caller's account and grants, read once per request.
 */
import type { Principal } from '../identity/access.js';
import { maxRole, roleFromAccount } from './access.js';
import { DepotGrant } from './model.js';
import type { DepotRole } from '@kis/protocol/api';

/** The depots a caller may see, and the role in each. */
export interface Visibility {
  /** A filter on the depots collection; undefined when the caller sees none. */
  filter: Record<string, unknown> | undefined;
  /** Whether the caller sees a depot, for depots held in memory. */
  sees(depot: DepotRef): boolean;
  /** The caller's role in a depot the filter matched. */
  roleIn(depot: DepotRef): DepotRole;
}

/** What decides whether a depot is visible: its id and its company. */
export interface DepotRef {
  depotId: string;
  organizationId?: string | null | undefined;
}

/** What the caller's account and grants let them see: all (operators), their company's, granted ones. */
export async function visibilityOf(principal: Principal): Promise<Visibility> {
  if (principal.role === 'admin') return { filter: {}, sees: () => true, roleIn: () => 'manager' };
  const own = principal.organizationId ? roleFromAccount(principal, principal.organizationId) : undefined;
  const grants = new Map<string, DepotRole>();
  for (const g of await DepotGrant.find({ userId: principal.userId }, { depotId: 1, role: 1 }).lean()) {
    grants.set(g.depotId, maxRole(grants.get(g.depotId), g.role as DepotRole) ?? (g.role as DepotRole));
  }
  const either: Record<string, unknown>[] = [];
  if (own && principal.organizationId) either.push({ organizationId: principal.organizationId });
  if (grants.size) either.push({ _id: { $in: [...grants.keys()] } });
  const byAccount = (depot: DepotRef): DepotRole | undefined =>
    own && depot.organizationId === principal.organizationId ? own : undefined;
  return {
    filter: either.length === 0 ? undefined : either.length === 1 ? either[0] : { $or: either },
    sees: (depot) => byAccount(depot) !== undefined || grants.has(depot.depotId),
    roleIn: (depot) => maxRole(byAccount(depot), grants.get(depot.depotId)) ?? 'viewer',
  };
}
