import type { DepotRole } from '@kis/protocol/api';
import { hasRight, type Principal } from '../identity/access.js';

/** Roles in ascending power: each includes what the ones before it may do. */
export const ROLE_RANK: Readonly<Record<DepotRole, number>> = { viewer: 1, operator: 2, manager: 3 };

/** The stronger of two roles. */
export function maxRole(a: DepotRole | undefined, b: DepotRole | undefined): DepotRole | undefined {
  if (!a) return b;
  if (!b) return a;
  return ROLE_RANK[a] >= ROLE_RANK[b] ? a : b;
}

/** True when `role` includes `needed`. */
export function roleIncludes(role: DepotRole | undefined, needed: DepotRole): boolean {
  return role !== undefined && ROLE_RANK[role] >= ROLE_RANK[needed];
}

/**
 * The role a caller holds on a depot, before grants: operators manage every depot; a main account
 * manages its company's depots; a sub-account with `operate_depots` operates and one with
 * `see_depots` views them. Grants add to this (the stronger wins).
 */
export function roleFromAccount(principal: Principal, depotOrganizationId: string | null): DepotRole | undefined {
  if (principal.role === 'admin') return 'manager';
  if (!depotOrganizationId || principal.organizationId !== depotOrganizationId) return undefined;
  if (principal.accountType === 'main') return 'manager';
  if (hasRight(principal, 'operate_depots', depotOrganizationId)) return 'operator';
  if (hasRight(principal, 'see_depots', depotOrganizationId)) return 'viewer';
  return undefined;
}
