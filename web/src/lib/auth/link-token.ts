/**
 * Reads the one-time token from the page's fragment (`#token=…`) and removes it from the address
 * bar and history, so it is neither bookmarked nor shown over a shoulder.
 */
export function takeLinkToken(): string | undefined {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;
  if (token) history.replaceState(history.state, '', location.pathname + location.search);
  return token;
}
