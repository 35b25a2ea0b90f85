import { hasRight, type Principal } from '../identity/access.js';
import { Forbidden } from '../errors.js';

/**
 * Who may do what in the customer areas. Operators everything, everywhere. A customer works in
 * their own areas: without a company (a single registered person) fully; a company's main account
 * fully; a sub-account by the rights its main account gave it — `read_areas` to read areas 1 and 2,
 * `manage_files` for its file area (area 4).
 */
function ownAreaRight(principal: Principal, right: 'read_areas' | 'manage_files'): boolean {
  if (principal.role === 'admin') return true;
  if (!principal.organizationId) return principal.role === 'customer';
  return hasRight(principal, right);
}

/** May read their own information (areas 1 and 2). */
export function mayReadInfo(principal: Principal): boolean {
  return ownAreaRight(principal, 'read_areas');
}

/** May list, upload, download and delete in their own file area (area 4). */
export function mayUseFiles(principal: Principal): boolean {
  return ownAreaRight(principal, 'manage_files');
}

/** Throws {@link Forbidden} unless {@link mayReadInfo}. */
export function assertReadInfo(principal: Principal): void {
  if (!mayReadInfo(principal)) throw new Forbidden('forbidden', 'missing right read_areas');
}

/** Throws {@link Forbidden} unless {@link mayUseFiles}. */
export function assertUseFiles(principal: Principal): void {
  if (!mayUseFiles(principal)) throw new Forbidden('forbidden', 'missing right manage_files');
}

/** Throws {@link Forbidden} unless the caller is an operator. */
export function assertOperator(principal: Principal): void {
  if (principal.role !== 'admin') throw new Forbidden('admin_only');
}
