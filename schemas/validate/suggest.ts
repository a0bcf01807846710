// "Did you mean …?" hints for names that are close to one that exists.

/** ` (did you mean \`x\`?)` for the closest candidate within a few edits of `name`, or ''. */
export function suggestion(name: string, candidates: readonly string[]): string {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const close = candidates.find((c) => distance(c.toLowerCase(), name.toLowerCase()) <= limit);
  return close === undefined ? '' : ` (did you mean \`${close}\`?)`;
}

/** Levenshtein distance. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
