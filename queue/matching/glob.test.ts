// The glob matcher agrees with the regular expressions it replaced on every pattern shape the
// docs name (and on seeded random patterns and texts), and stays fast on the inputs that made
// those regular expressions backtrack for seconds.
import { describe, expect, it } from 'vitest';
import { compileGlob } from './glob.js';

/** The translation to a RegExp that glob filters used before: the reference for the meaning. */
function oldGlobToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, end);
      const negated = set.startsWith('!') || set.startsWith('^');
      if (negated) set = set.slice(1);
      out += `[${negated ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'su');
}

const PATTERNS = [
  '', '*', '**', '?', 'refs/heads/*', 'refs/*/main', 'release-*', '*-prod', '*-*-*-*-prod', 'a*b*c', '*a*', 'a?c', '??',
  '[abc]', '[a-c]x', '[!abc]', '[^abc]', '[]a]', '[!]a]', '[a-]', '[-a]', '[a-c-e]', '[', 'a[', '[]', 'a]b', '(dev)', 'a.b', 'a+b',
  '$x^', 'a\\b', '[\\]', '*.yaml', 'Disk*', 'ü*', '[ä-ü]', '😀?', '?😀', 'x*y?z*', '*?*?', 'a**b', '\n*',
];
const TEXTS = [
  '', 'a', 'b', 'abc', 'ac', 'axc', 'refs/heads/main', 'refs/heads/dev', 'refs/tags/main', 'release-1.2', 'release-', 'eu-prod',
  'a-b-c-d-prod', '----prod', '----', ']', 'x', '-', 'd', 'a]b', '(dev)', 'a.b', 'a+b', 'axb', '$x^', 'a\\b', '\\', 'config.yaml',
  'DiskFull', 'über', 'ö', '😀x', 'x😀', 'xqyaz', 'xyz', 'aab', 'ab', '\nfoo', 'foo\nbar', '[', 'a[', '[]', 'x-y-z',
];

/** A small seeded generator (mulberry32): the same cases every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('glob', () => {
  it('means what the old regular expressions meant, on a table of patterns and texts', () => {
    for (const pattern of PATTERNS) {
      const glob = compileGlob(pattern);
      const re = oldGlobToRegExp(pattern);
      for (const text of TEXTS) expect([pattern, text, glob.test(text)]).toEqual([pattern, text, re.test(text)]);
    }
  });

  it('means what the old regular expressions meant, on 2,000 seeded random patterns and texts', () => {
    const next = random(20);
    const pick = (alphabet: string[], max: number) => Array.from({ length: Math.floor(next() * max) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
    for (let i = 0; i < 2000; i++) {
      const pattern = pick(['a', 'b', '-', '*', '?', '[', ']', '!', '^'], 8);
      let re: RegExp;
      try {
        re = oldGlobToRegExp(pattern);
      } catch {
        expect(() => compileGlob(pattern)).toThrow();
        continue;
      }
      const glob = compileGlob(pattern);
      for (let j = 0; j < 5; j++) {
        const text = pick(['a', 'b', '-', ']', '!'], 10);
        expect([pattern, text, glob.test(text)]).toEqual([pattern, text, re.test(text)]);
      }
    }
  });

  it('refuses a range out of order, naming it', () => {
    expect(() => compileGlob('[z-a]')).toThrow('glob "[z-a]": range z-a is out of order; write the lower end first');
  });

  // The old regular expression took 15 s at 400 dashes and minutes at 800.
  it('matches `*-*-*-*-prod` against 800 dashes (and 20,000) in well under 50 ms', { timeout: 5000 }, () => {
    const glob = compileGlob('*-*-*-*-prod');
    for (const length of [800, 20_000]) {
      const ref = '-'.repeat(length);
      const started = performance.now();
      expect(glob.test(ref)).toBe(false);
      expect(glob.test(`${ref}prod`)).toBe(true);
      expect(performance.now() - started).toBeLessThan(50);
    }
  });

  it('stays fast on many stars and a long text with no match', { timeout: 5000 }, () => {
    const glob = compileGlob(`${'*a'.repeat(30)}b`);
    const started = performance.now();
    expect(glob.test('a'.repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(50);
  });
});
