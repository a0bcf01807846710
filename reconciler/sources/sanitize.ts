// Strips credentials from text before it reaches a log, a status row or an error message: the
// userinfo of URLs (`https://user:token@host` → `https://host`) and every known secret (a token
// resolved from the secret store), including texts that come from libraries we do not control.

// `scheme://userinfo@` where userinfo holds no `/`, `@` or whitespace, so a path containing
// `@` (e.g. `https://host/@scope/pkg`) is not mistaken for credentials.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;

const MASK = '***';

/** The URL without its `user:password@` part; everything else is kept byte for byte. */
export function sanitizeUrl(url: string): string {
  return url.replace(URL_USERINFO, '$1');
}

/**
 * `text` with URL userinfo removed anywhere in it and every occurrence of each secret (raw and
 * URL-encoded) replaced by `***`. Empty secrets are ignored.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let clean = sanitizeUrl(text);
  // Longest first, so a secret that contains another one is masked whole.
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    variants.add(secret);
    variants.add(encodeURIComponent(secret));
  }
  for (const secret of [...variants].sort((a, b) => b.length - a.length)) {
    clean = clean.split(secret).join(MASK);
  }
  return clean;
}
