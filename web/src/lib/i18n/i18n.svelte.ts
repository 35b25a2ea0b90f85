import { getContext, setContext } from 'svelte';
import { de, type Messages } from './de.js';
import { en } from './en.js';

/** The languages the portal speaks, German first. */
export const LOCALES = ['de', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

const MESSAGES: Record<Locale, Messages> = { de, en };
const STORAGE_KEY = 'kis.locale';
const CONTEXT_KEY = Symbol('i18n');

function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/**
 * The user's language and its texts. German unless the user chose otherwise; the choice is kept
 * in localStorage and mirrored to `<html lang>` so screen readers pronounce the page right.
 *
 * @example
 * const i18n = getI18n();
 * <h1>{i18n.t.home.title}</h1>
 */
export class I18n {
  locale = $state<Locale>('de');
  t: Messages = $derived(MESSAGES[this.locale]);

  constructor(storage: Pick<Storage, 'getItem' | 'setItem'> | undefined) {
    this.storage = storage;
    const saved = storage?.getItem(STORAGE_KEY);
    if (isLocale(saved)) this.locale = saved;
    this.apply();
  }

  private readonly storage: Pick<Storage, 'getItem' | 'setItem'> | undefined;

  /** Switches the language and remembers the choice. */
  set(locale: Locale): void {
    this.locale = locale;
    this.storage?.setItem(STORAGE_KEY, locale);
    this.apply();
  }

  /** Formats a date and time in the user's language and time zone. */
  dateTime(value: Date | string): string {
    const date = typeof value === 'string' ? Date.parse(value) : value;
    return new Intl.DateTimeFormat(this.locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
  }

  /** Date and time to the second, in the user's language and time zone (live states, history). */
  dateTimeSeconds(value: Date | string): string {
    const date = typeof value === 'string' ? Date.parse(value) : value;
    return new Intl.DateTimeFormat(this.locale, { dateStyle: 'medium', timeStyle: 'medium' }).format(date);
  }

  private apply(): void {
    if (typeof document !== 'undefined') document.documentElement.lang = this.locale;
  }
}

/** Provides the I18n instance to the component tree (call once, in the root layout). */
export function setI18n(i18n: I18n): I18n {
  return setContext(CONTEXT_KEY, i18n);
}

/** The I18n instance from the root layout. */
export function getI18n(): I18n {
  return getContext<I18n>(CONTEXT_KEY);
}

/**
 * The user-facing text for an API failure code, in the current language. Unknown codes fall back
 * to a generic message, never to the raw code.
 */
export function errorText(t: Messages, failure: { code: string; retryAfterSeconds?: number | undefined }): string {
  if (failure.code === 'locked') return t.errors.locked(Math.max(1, Math.ceil((failure.retryAfterSeconds ?? 60) / 60)));
  const text = (t.errors as Record<string, unknown>)[failure.code];
  return typeof text === 'string' ? text : t.errors.unknown;
}
