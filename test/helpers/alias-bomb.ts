// The YAML alias bomb of issue 20 item 3 ("billion laughs"): nine levels of nine aliases, each
// level a list of nine aliases of the one before. About 450 bytes of text; expanded, 387 million
// leaves. `under` puts it under a key of a document (an event's `body`, a config's `x-bomb`);
// `levels` (default 9) makes a smaller one that old code gets through quickly, and wrongly.
export function aliasBomb(options: { head?: string; under?: string; indent?: string; levels?: number } = {}): string {
  const names = 'abcdefghi'.slice(0, options.levels ?? 9);
  const indent = options.indent ?? '  ';
  let out = options.head ?? '';
  if (options.under) out += `${options.under}:\n`;
  out += `${indent}a: &a [x, x, x, x, x, x, x, x, x]\n`;
  for (let i = 1; i < names.length; i++) {
    const name = names[i] as string;
    out += `${indent}${name}: &${name} [${Array(9).fill(`*${names[i - 1] as string}`).join(', ')}]\n`;
  }
  return out;
}

/** An Event definition with the bomb in its body; the alias that crosses a limit of 100 is on line 8. */
export const EVENT_BOMB = aliasBomb({ head: 'apiVersion: eventops.dev/v1\nkind: Event\ntype: bomb\n', under: 'body' });
