// The script a task runs: its commands, one per line, then a trailer that saves the final value
// of each variable an output reads (`fromEnv`) to a file of its own. The trailer runs in the same
// shell after the last command, so it sees variables set without `export` too, and it runs only
// when the commands got that far and ended well. Nothing of the task's data is pasted into the
// script: values reach it as environment variables, and the trailer quotes its own paths.

/** Names a shell accepts as variables; a `fromEnv` must be one, because it is written into the trailer. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `'text'` with each `'` closed, escaped and reopened: safe in any POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The script text. `captures` are variable names (checked against VARIABLE_NAME; throws otherwise),
 * each saved to `<captureDir>/<NAME>` by the trailer. `captureDir` is a path, or the name of an
 * environment variable holding it (for a script written before its folder is known: remote runners).
 */
export function taskScript(commands: readonly string[], captures: readonly string[], captureDir: string | { variable: string }): string {
  const body = commands.join('\n');
  if (captures.length === 0) return `${body}\n`;
  const saves = [...new Set(captures)].map((name) => {
    checked(name);
    const target = typeof captureDir === 'string' ? shellQuote(`${captureDir}/${name}`) : `"\${${checked(captureDir.variable)}}/${name}"`;
    return `printf '%s' "\${${name}-}" > ${target}`;
  });
  // The blank line ends a command left open by a trailing backslash, so the trailer stays its own.
  return [
    body,
    '',
    '# eventops: save the variables that outputs read (reached only when every command above succeeded)',
    '__eventops_status=$?',
    'if [ "$__eventops_status" -ne 0 ]; then exit "$__eventops_status"; fi',
    ...saves,
    '',
  ].join('\n');
}

function checked(name: string): string {
  if (!VARIABLE_NAME.test(name)) throw new Error(`"${name}" is not a shell variable name`);
  return name;
}
