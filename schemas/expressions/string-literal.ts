// Skipping over CEL string literals when scanning expression text by hand.

/** Index of the closing quote of the string literal that opens at `start` (last index if unclosed). Knows `\` escapes and triple quotes. */
export function skipString(text: string, start: number): number {
  const quote = text[start] as string;
  const triple = quote.repeat(3);
  if (text.startsWith(triple, start)) {
    const end = text.indexOf(triple, start + 3);
    return end < 0 ? text.length - 1 : end + 2;
  }
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i;
  }
  return text.length - 1;
}
