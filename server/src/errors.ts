import type { ErrorCode } from '@kis/protocol/api';

/**
 * Typed domain errors. Services throw these for expected failures; one HTTP error handler and one
 * socket ack shape map them to status codes and stable codes the web translates. Their messages
 * are for developers and logs, never shown to users verbatim, and never hold secrets.
 */
export abstract class DomainError extends Error {
  abstract readonly status: number;
  /** Stable, lower-case code the web translates, e.g. `invalid_credentials` (protocol/src/api/errors.ts lists them). */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string = code) {
    super(message);
    this.code = code;
  }
}

/** 400: the request is well-formed but its content is not acceptable (e.g. a weak password). */
export class Invalid extends DomainError {
  override name = 'Invalid';
  readonly status = 400;
}

/** 401: no valid session, or wrong credentials. */
export class Unauthorized extends DomainError {
  override name = 'Unauthorized';
  readonly status = 401;
}

/** 403: a valid session that may not do this. */
export class Forbidden extends DomainError {
  override name = 'Forbidden';
  readonly status = 403;
}

/** 404: nothing there, or nothing the caller may know of. */
export class NotFound extends DomainError {
  override name = 'NotFound';
  readonly status = 404;
}

/** 409: the change collides with the current state. */
export class Conflict extends DomainError {
  override name = 'Conflict';
  readonly status = 409;
}

/** 413: an upload larger than a limit (file size or quota); nothing of it is kept. */
export class TooLarge extends DomainError {
  override name = 'TooLarge';
  readonly status = 413;
}

/** 429: too many attempts; `retryAfterSeconds` says how long to wait. */
export class RateLimited extends DomainError {
  override name = 'RateLimited';
  readonly status = 429;
  constructor(
    code: ErrorCode,
    readonly retryAfterSeconds: number,
  ) {
    super(code, `${code}: retry after ${retryAfterSeconds} s`);
  }
}

/** 503: a service KIS depends on (the payment provider) did not answer; nothing was changed, retry later. */
export class Unavailable extends DomainError {
  override name = 'Unavailable';
  readonly status = 503;
}
