/**
 * The one shape every acknowledgement has: success with a value, or a translated-by-code error.
 * A bad payload gets `{ ok: false, error: { code: 'invalid' } }`, never a dropped connection.
 */
export type Ack<T> = { ok: true; value: T } | { ok: false; error: AckError };

/** Error codes a client can translate; `message` is for developers and never holds internals. */
export interface AckError {
  code: 'invalid' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'rate_limited' | 'internal';
  message?: string;
}
