// Masks secret values in log text. Each non-empty secret is replaced by `***`, and so is each
// non-empty line of a multi-line secret (a PEM key printed by a task arrives one line at a
// time, so the whole value never appears in any one log line). Longer values are replaced
// first, so a secret that contains another one is masked whole. The masker also names the texts
// it replaces (`needles`): the line splitter never cuts a long line inside one of them, so each
// piece is masked with every secret in it whole.

export const MASK = '***';

/** Masks text; `needles` are the texts it replaces (longest first), for cutting lines around them. */
export type Masker = ((text: string) => string) & { readonly needles: readonly string[] };

/** A function replacing every occurrence of every secret (and of each line of a multi-line one) with `***`. */
export function createMasker(secrets: readonly string[]): Masker {
  const needles = new Set<string>();
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    needles.add(secret);
    for (const line of secret.split('\n')) {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (text.length > 0) needles.add(text);
    }
  }
  const ordered = [...needles].sort((a, b) => b.length - a.length);
  const mask =
    ordered.length === 0
      ? (text: string) => text
      : (text: string) => {
          let masked = text;
          for (const needle of ordered) if (masked.includes(needle)) masked = masked.split(needle).join(MASK);
          return masked;
        };
  return Object.assign(mask, { needles: ordered });
}
