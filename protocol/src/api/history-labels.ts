import type { HISTORY_SOURCES } from './depots.js';

type HistorySource = (typeof HISTORY_SOURCES)[number];

/**
 * The words for a depot history entry's kind and source, in both languages: the depot page shows
 * them (web i18n) and the exports write them (server reports), so a reader finds the same words in
 * both. A kind missing here is shown as its code.
 */
export const HISTORY_KIND_LABELS: Readonly<Record<'de' | 'en', Readonly<Record<string, string>>>> = {
  de: {
    key_removed: 'Schlüssel entnommen',
    key_returned: 'Schlüssel zurückgegeben',
    door_opened: 'Tür geöffnet',
    door_closed: 'Tür geschlossen',
    door_open_too_long: 'Tür zu lange offen',
    pin_accepted: 'PIN angenommen',
    pin_rejected: 'PIN abgelehnt',
    tamper: 'Sabotage',
    power_lost: 'Netzausfall',
    power_restored: 'Netz wieder da',
    online: 'Depot online',
    offline: 'Depot offline',
    depot_started: 'Depot gestartet',
    locked: 'Fach verriegelt',
    unlocked: 'Fach entriegelt',
    key_overdue: 'Schlüssel überfällig',
    command_succeeded: 'Befehl ausgeführt',
    command_failed: 'Befehl fehlgeschlagen',
    command_expired: 'Befehl aufgegeben',
    alarm_cleared: 'Alarm erledigt',
    handover: 'Persönliche Übergabe',
    note: 'Notiz',
  },
  en: {
    key_removed: 'Key taken',
    key_returned: 'Key returned',
    door_opened: 'Door opened',
    door_closed: 'Door closed',
    door_open_too_long: 'Door open too long',
    pin_accepted: 'PIN accepted',
    pin_rejected: 'PIN rejected',
    tamper: 'Tamper',
    power_lost: 'Power lost',
    power_restored: 'Power restored',
    online: 'Depot online',
    offline: 'Depot offline',
    depot_started: 'Depot started',
    locked: 'Compartment locked',
    unlocked: 'Compartment unlocked',
    key_overdue: 'Key overdue',
    command_succeeded: 'Command carried out',
    command_failed: 'Command failed',
    command_expired: 'Command given up',
    alarm_cleared: 'Alarm dealt with',
    handover: 'Handed over in person',
    note: 'Note',
  },
};

/** Where an entry came from: the depot's telegram, its state, the server, or a person. */
export const HISTORY_SOURCE_LABELS: Readonly<Record<'de' | 'en', Readonly<Record<HistorySource, string>>>> = {
  de: { depot: 'Depot', state: 'Zustand', server: 'Server', user: 'Person' },
  en: { depot: 'Depot', state: 'State', server: 'Server', user: 'Person' },
};
