// The script text: commands as given, and a trailer whose paths and names cannot become code.
import { describe, expect, it } from 'vitest';
import { shellQuote, taskScript } from './task-script.js';

describe('taskScript', () => {
  it('is the commands alone when no output reads a variable', () => {
    expect(taskScript(['echo a', 'echo b'], [], '/x')).toBe('echo a\necho b\n');
  });

  it('saves each variable once, to a quoted path, after checking the status', () => {
    const script = taskScript(['make'], ['TAG', 'TAG', 'B_2'], "/work/it's here/env");
    expect(script).toContain(`printf '%s' "\${TAG-}" > '/work/it'\\''s here/env/TAG'`);
    expect(script.match(/TAG-/g)).toHaveLength(1);
    expect(script.indexOf('__eventops_status=$?')).toBeLessThan(script.indexOf('printf'));
  });

  it('refuses a variable name that is not one', () => {
    expect(() => taskScript([], ['A;rm'], '/x')).toThrow('not a shell variable name');
    expect(() => taskScript([], ['1A'], '/x')).toThrow('not a shell variable name');
  });

  it('quotes any text for the shell', () => {
    expect(shellQuote("a'b")).toBe(`'a'\\''b'`);
  });
});
