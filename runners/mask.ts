// Masks secret values in log text. Each non-empty secret is replaced by `***`, and so is each
// non-empty line of a multi-line secret (a PEM key printed by a task arrives one line at a
// time, so the whole value never appears in any one log line). Longer values are replaced
// first, so a secret that contains another one is masked whole.

export const MASK = '***';

/** A function replacing every occurrence of every secret (and of each line of a multi-line one) with `***`. */
export function createMasker(secrets: readonly string[]): (text: string) => string {
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
  if (ordered.length === 0) return (text) => text;
  return (text) => {
    let masked = text;
    for (const needle of ordered) if (masked.includes(needle)) masked = masked.split(needle).join(MASK);
    return masked;
  };
}
