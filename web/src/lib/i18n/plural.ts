/** The word forms a count takes: `one` for 1 (in German and English), `other` for the rest. */
export interface PluralForms {
  one: string;
  other: string;
}

const rules = new Map<string, Intl.PluralRules>();
const numbers = new Map<string, Intl.NumberFormat>();

/**
 * A number with its word in the right form, by the language's plural rules (`Intl.PluralRules`)
 * and digit grouping: `count('de', 1, { one: 'Eintrag', other: 'Einträge' })` is "1 Eintrag",
 * with 1234 "1.234 Einträge"; in English "1,234 entries".
 */
export function count(locale: 'de' | 'en', n: number, forms: PluralForms): string {
  return `${number(locale, n)} ${word(locale, n, forms)}`;
}

/** A number with the language's digit grouping: 1.234 in German, 1,234 in English. */
export function number(locale: 'de' | 'en', n: number): string {
  let format = numbers.get(locale);
  if (!format) numbers.set(locale, (format = new Intl.NumberFormat(locale)));
  return format.format(n);
}

/** The word alone, in the form `n` takes (where the number stands apart, as a large figure). */
export function word(locale: 'de' | 'en', n: number, forms: PluralForms): string {
  let rule = rules.get(locale);
  if (!rule) rules.set(locale, (rule = new Intl.PluralRules(locale)));
  return rule.select(n) === 'one' ? forms.one : forms.other;
}
