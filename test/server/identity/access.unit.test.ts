import { describe, expect, it } from 'vitest';
import { Forbidden } from '../../../server/src/errors.js';
import { assertRight, canManageAccount, hasRight, type Principal } from '../../../server/src/identity/access.js';

const admin: Principal = { userId: 'a', role: 'admin', rights: [] };
const main: Principal = { userId: 'm', role: 'customer', organizationId: 'org1', accountType: 'main', rights: [] };
const reader: Principal = {
  userId: 's',
  role: 'customer',
  organizationId: 'org1',
  accountType: 'sub',
  rights: ['read_areas'],
};
const loner: Principal = { userId: 'l', role: 'customer', rights: ['manage_files'] };

describe('access rules', () => {
  it('refuses a sub-account without the file right, and grants the rights it has', () => {
    expect(() => assertRight(reader, 'manage_files')).toThrow(Forbidden);
    expect(hasRight(reader, 'read_areas')).toBe(true);
  });

  it('gives a main account every right in its own company and none elsewhere', () => {
    expect(hasRight(main, 'operate_depots')).toBe(true);
    expect(hasRight(main, 'operate_depots', 'org2')).toBe(false);
    expect(hasRight(reader, 'read_areas', 'org2')).toBe(false);
  });

  it('gives operators every right, and customers outside a company none', () => {
    expect(hasRight(admin, 'manage_invoices', 'org9')).toBe(true);
    expect(hasRight(loner, 'manage_files')).toBe(false);
  });

  it('lets a main account manage only its own sub-accounts', () => {
    expect(canManageAccount(main, { id: 's', role: 'customer', organizationId: 'org1', accountType: 'sub' })).toBe(
      true,
    );
    expect(canManageAccount(main, { id: 'x', role: 'customer', organizationId: 'org2', accountType: 'sub' })).toBe(
      false,
    );
    expect(canManageAccount(main, { id: 'm2', role: 'customer', organizationId: 'org1', accountType: 'main' })).toBe(
      false,
    );
    expect(canManageAccount(main, { id: 'a', role: 'admin' })).toBe(false);
    expect(canManageAccount(reader, { id: 's2', role: 'customer', organizationId: 'org1', accountType: 'sub' })).toBe(
      false,
    );
    expect(canManageAccount(admin, { id: 's', role: 'customer', organizationId: 'org1', accountType: 'sub' })).toBe(
      true,
    );
  });
});
