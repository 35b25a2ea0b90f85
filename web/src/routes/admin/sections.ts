import type { Messages } from '$lib/i18n/de';

/** The administration's sections, in the order the side navigation and the index list them. */
export const ADMIN_SECTIONS = [
  { path: '/admin/bereiche', name: 'areasConsole' },
  { path: '/admin/benutzer', name: 'users' },
  { path: '/admin/unternehmen', name: 'organizations' },
  { path: '/admin/protokoll', name: 'audit' },
  { path: '/admin/postausgang', name: 'outbox' },
  { path: '/admin/datenschutz', name: 'privacy' },
  { path: '/admin/umstellung', name: 'migration' },
  { path: '/rechnungen/einstellungen', name: 'invoiceSettings' },
] as const satisfies ReadonlyArray<{ path: string; name: keyof Messages['administration'] & keyof Messages['nav'] }>;
