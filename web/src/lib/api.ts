/**
 * The browser's door to the REST API: JSON in and out, the CSRF token on every state-changing
 * request, and failures as {@link ApiFailure} with the server's stable code.
 */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(code);
  }
}

let csrfToken: string | undefined;
let identity = 0;

/** Set after login or session load; cleared at logout. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Which of the browser's signed-in identities the requests act as (X-KIS-Identity). */
export function setIdentity(slot: number): void {
  identity = slot;
}

/** Calls the API. Throws {@link ApiFailure} for any non-2xx answer. */
export async function api<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        'x-kis-identity': String(identity),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(method !== 'GET' && csrfToken ? { 'x-csrf-token': csrfToken } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : method === 'GET' ? null : '{}',
    });
  } catch {
    throw new ApiFailure(0, 'network');
  }
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const error = (data as { error?: { code?: string }; retryAfterSeconds?: number } | null) ?? {};
    throw new ApiFailure(res.status, error.error?.code ?? 'unknown', error.retryAfterSeconds);
  }
  return data as T;
}
