// The original eventops read event data with gjson paths (`values.user`, `files.x.value`,
// `list.0.name`). This turns a plain gjson path into a CEL member path; queries, wildcards
// and modifiers have no direct equivalent and are refused with a message.

/** `values.echo-value.0` → `event.body.values["echo-value"][0]`, under `root`. */
export function gjsonToCel(path: string, root: string): { cel: string } | { error: string } {
  if (/[#*?|@]/.test(path.replace(/\\./g, ''))) {
    return { error: `the gjson query \`${path}\` uses wildcards, queries or modifiers, which have no v1 equivalent; write a \`\${{ }}\` CEL expression instead` };
  }
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i] as string;
    if (c === '\\' && i + 1 < path.length) {
      current += path[++i];
    } else if (c === '.') {
      segments.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  segments.push(current);
  if (segments.some((s) => s === '')) return { error: `the gjson path \`${path}\` has an empty segment` };
  const cel = segments
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`))
    .join('');
  return { cel: `${root}${cel}` };
}
