/**
 * German texts: the source language. English (en.ts) must have exactly the same keys, which the
 * type checker enforces; a text that takes values is a function.
 */
export const de = {
  app: {
    name: 'KIS',
    tagline: 'Kundenportal und Schlüsseldepots',
    skipToContent: 'Zum Inhalt springen',
  },
  language: {
    label: 'Sprache',
    de: 'Deutsch',
    en: 'English',
  },
  connection: {
    label: 'Verbindung zum Server',
    connecting: 'Verbinde …',
    connected: 'Verbunden',
    disconnected: 'Getrennt',
  },
  home: {
    title: 'Kundenportal',
    intro:
      'Hier finden Sie Informationen für Sie und Ihr Unternehmen, gemeinsame Texte, den Dateiaustausch und Ihre Schlüsseldepots – live und sicher.',
  },
  status: {
    title: 'Systemstatus',
    server: 'Server',
    version: 'Version',
    roundTrip: 'Antwortzeit',
    unknown: '–',
    milliseconds: (ms: number, locale: string) => `${new Intl.NumberFormat(locale).format(ms)} ms`,
  },
  notFound: {
    title: 'Seite nicht gefunden',
    back: 'Zur Startseite',
  },
  footer: {
    operator: 'Betrieben von Ihrem Servicepartner',
  },
};

/** The shape every language's texts have. */
export type Messages = typeof de;
