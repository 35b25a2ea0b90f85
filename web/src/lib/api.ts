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

/** How a request is made beyond method, path and body. */
export interface ApiOptions {
  /**
   * The page asks by itself (polling, reloading after a push), not because the user did something:
   * the server does not count it as activity, so an abandoned tab still times out.
   */
  background?: boolean;
}

/** Calls the API. Throws {@link ApiFailure} for any non-2xx answer. */
export async function api<T>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  options: ApiOptions = {},
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
        ...(options.background ? { 'x-kis-background': '1' } : {}),
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

/** Progress of an upload: bytes sent so far of the whole. */
/**
 * Signs out another identity of this browser without acting as it: asks for that identity's
 * session (and CSRF token), then ends it. The identity this tab acts as stays as it is.
 */
export async function signOutIdentity(slot: number): Promise<void> {
  const headers = { accept: 'application/json', 'x-kis-identity': String(slot) };
  const session = await fetch('/api/auth/session', { credentials: 'same-origin', headers });
  if (!session.ok) return;
  const { csrfToken: token } = (await session.json()) as { csrfToken: string };
  await fetch('/api/auth/logout', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...headers, 'content-type': 'application/json', 'x-csrf-token': token },
    body: '{}',
  });
}

/** Sends a text body as it is (an import file), with the session's CSRF token; answers JSON. */
export async function apiText<T>(path: string, body: string, contentType: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        'content-type': contentType,
        'x-kis-identity': String(identity),
        ...(csrfToken ? { 'x-csrf-token': csrfToken } : {}),
      },
      body,
    });
  } catch {
    throw new ApiFailure(0, 'network');
  }
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const error = (data as { error?: { code?: string } } | null) ?? {};
    throw new ApiFailure(res.status, error.error?.code ?? 'unknown');
  }
  return data as T;
}

export type UploadProgress = (loaded: number, total: number) => void;

/**
 * Uploads one file as the request body (streamed by the browser, never read into memory here),
 * reporting progress. The type is always application/octet-stream: the server looks at the bytes.
 * `abort` cancels it. Throws {@link ApiFailure} like {@link api}.
 */
export function uploadFile<T>(path: string, file: Blob, onProgress: UploadProgress, signal?: AbortSignal): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.setRequestHeader('x-kis-identity', String(identity));
    if (csrfToken) xhr.setRequestHeader('x-csrf-token', csrfToken);
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onerror = () => reject(new ApiFailure(0, 'network'));
    xhr.onabort = () => reject(new ApiFailure(0, 'aborted'));
    xhr.onload = () => {
      let data: unknown = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) return resolvePromise(data as T);
      const error = (data as { error?: { code?: string } } | null) ?? {};
      reject(new ApiFailure(xhr.status, error.error?.code ?? 'unknown'));
    };
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}

/**
 * The address of a download for the identity this tab acts as. Downloads are plain links (the
 * browser streams them to disk); the identity travels in the query because a link sends no headers.
 */
export function downloadUrl(path: string): string {
  return identity === 0 ? path : `${path}${path.includes('?') ? '&' : '?'}identity=${identity}`;
}
