import { RIGHT_NAMES } from '@kis/protocol/api';
import { Forbidden } from '../errors.js';
import type { AccountType, Role } from './user-model.js';

/**
 * The rights a main account can give its sub-accounts. The one place every module asks
 * "may this caller do this?" — areas, depots and invoices call {@link assertRight}.
 */
export const RIGHTS = RIGHT_NAMES;
export type Right = (typeof RIGHT_NAMES)[number];
const RIGHT_SET: ReadonlySet<string> = new Set(RIGHTS);

/** True for a known right name. */
export function isRight(value: string): value is Right {
  return RIGHT_SET.has(value);
}

/** What access decisions need to know about a caller. */
export interface Principal {
  userId: string;
  role: Role;
  organizationId?: string | undefined;
  accountType?: AccountType | undefined;
  rights: readonly string[];
}

/**
 * Whether the caller holds a right within an organization: operators everywhere, a main account
 * in its own company, a sub-account in its own company for the rights it was given.
 */
export function hasRight(
  principal: Principal,
  right: Right,
  organizationId: string | undefined = principal.organizationId,
): boolean {
  if (principal.role === 'admin') return true;
  if (!principal.organizationId || principal.organizationId !== organizationId) return false;
  if (principal.accountType === 'main') return true;
  return principal.accountType === 'sub' && principal.rights.includes(right);
}

/** Throws {@link Forbidden} unless {@link hasRight}. */
export function assertRight(principal: Principal, right: Right, organizationId?: string): void {
  if (!hasRight(principal, right, organizationId)) throw new Forbidden('forbidden', `missing right ${right}`);
}

/** The account another account would be managed as. */
export interface ManagedAccount {
  id: string;
  role: Role;
  organizationId?: string | undefined;
  accountType?: AccountType | undefined;
}

/**
 * Whether the caller may manage another account (edit, disable, delete, set its ranges):
 * operators any customer account, a main account the sub-accounts of its own company.
 */
export function canManageAccount(principal: Principal, target: ManagedAccount): boolean {
  if (principal.role === 'admin') return true;
  return (
    principal.accountType === 'main' &&
    principal.organizationId !== undefined &&
    target.organizationId === principal.organizationId &&
    target.accountType === 'sub' &&
    target.role === 'customer'
  );
}

/** Throws {@link Forbidden} unless {@link canManageAccount}. Unknown or foreign accounts look the same. */
export function assertCanManage(
  principal: Principal,
  target: ManagedAccount | undefined | null,
): asserts target is ManagedAccount {
  if (!target || !canManageAccount(principal, target)) throw new Forbidden('forbidden');
}
