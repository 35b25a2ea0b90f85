import { z } from 'zod';

/*
 * Length bounds for strings and arrays that never throw on hostile input.
 *
 * zod 4 runs a length check (`.min`, `.max`, `.length`) on any value that has a `length`, even
 * after the type check failed: a hostile object such as `{ length: Object.create(null) }` where a
 * string belongs made the check throw a TypeError instead of answering with an issue (found by
 * the schemas' property test). These are the same checks, run on strings and arrays only.
 *
 * @example
 * z.string().trim().check(atLeast(1), atMost(200))
 */

function onTextOrList<T extends z.core.$ZodCheck>(check: T): T {
  check._zod.def.when = (payload) => typeof payload.value === 'string' || Array.isArray(payload.value);
  return check;
}

/** At least `n` characters or items. */
export function atLeast(n: number): z.core.$ZodCheckMinLength {
  return onTextOrList(z.minLength(n));
}

/** At most `n` characters or items. */
export function atMost(n: number): z.core.$ZodCheckMaxLength {
  return onTextOrList(z.maxLength(n));
}

/** Exactly `n` characters or items. */
export function exactly(n: number): z.core.$ZodCheckLengthEquals {
  return onTextOrList(z.length(n));
}
