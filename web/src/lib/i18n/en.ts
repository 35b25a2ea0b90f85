import type { Messages } from './de.js';

/** English texts; same keys as German (checked by the compiler). */
export const en: Messages = {
  app: {
    name: 'KIS',
    tagline: 'Customer portal and key depots',
    skipToContent: 'Skip to content',
  },
  language: {
    label: 'Language',
    de: 'Deutsch',
    en: 'English',
  },
  connection: {
    label: 'Connection to the server',
    connecting: 'Connecting …',
    connected: 'Connected',
    disconnected: 'Disconnected',
  },
  home: {
    title: 'Customer portal',
    intro: 'Information for you and your company, shared texts, file exchange and your key depots – live and secure.',
  },
  status: {
    title: 'System status',
    server: 'Server',
    version: 'Version',
    roundTrip: 'Round trip',
    unknown: '–',
    milliseconds: (ms: number, locale: string) => `${new Intl.NumberFormat(locale).format(ms)} ms`,
  },
  notFound: {
    title: 'Page not found',
    back: 'Back to the start page',
  },
  footer: {
    operator: 'Operated by your service partner',
  },
};
