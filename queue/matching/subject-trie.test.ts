// NATS-style subject patterns: `*` is one token, `>` one or more tokens at the end; the trie
// and the one-pattern check agree on every case.
import { describe, expect, it } from 'vitest';
import { SubjectTrie, subjectMatches } from './subject-trie.js';

const CASES: [pattern: string, subject: string, matches: boolean][] = [
  ['ops.status', 'ops.status', true],
  ['ops.status', 'ops.status.extra', false],
  ['ops.status', 'ops', false],
  ['ops.*.status', 'ops.eu-1.status', true],
  ['ops.*.status', 'ops.status', false],
  ['ops.*.status', 'ops.a.b.status', false],
  ['ops.*', 'ops', false],
  ['*', 'anything', true],
  ['*', 'two.tokens', false],
  ['ops.>', 'ops.a', true],
  ['ops.>', 'ops.a.b.c', true],
  ['ops.>', 'ops', false],
  ['>', 'a', true],
  ['>', 'a.b', true],
  ['*.>', 'a', false],
  ['*.>', 'a.b', true],
  ['ops.clusters.*.namespaces.*.taskruns.>', 'ops.clusters.prod-1.namespaces.ci.taskruns.build.status', true],
  ['ops.clusters.*.namespaces.*.taskruns.>', 'ops.clusters.prod-1.namespaces.ci.taskruns', false],
  // Wildcards never match an empty token.
  ['ops.*.status', 'ops..status', false],
  ['ops.>', 'ops.', false],
  ['ops.>', 'ops.a..b', false],
  // Literal tokens are compared exactly: case and `-` matter.
  ['ops.EU.status', 'ops.eu.status', false],
  ['services.>', 'services.payments', true],
];

describe('subject patterns', () => {
  it.each(CASES)('%s ~ %s → %s', (pattern, subject, matches) => {
    expect(subjectMatches(pattern, subject)).toBe(matches);
    const trie = new SubjectTrie<string>();
    trie.insert(pattern, pattern);
    const found: string[] = [];
    trie.match(subject, found);
    expect(found).toEqual(matches ? [pattern] : []);
  });

  it('finds every matching pattern once among many, and nothing else', () => {
    const trie = new SubjectTrie<string>();
    const patterns = ['a.b.c', 'a.*.c', 'a.>', '*.b.*', '>', 'a.b', 'a.*.d', 'x.>', 'a.b.c.>'];
    for (const p of patterns) trie.insert(p, p);
    const found: string[] = [];
    trie.match('a.b.c', found);
    expect(found.sort()).toEqual(['*.b.*', '>', 'a.*.c', 'a.>', 'a.b.c'].sort());
    expect(trie.size).toBe(patterns.length);
  });

  it('keeps several values under one pattern', () => {
    const trie = new SubjectTrie<number>();
    trie.insert('a.*', 1);
    trie.insert('a.*', 2);
    const found: number[] = [];
    trie.match('a.z', found);
    expect(found).toEqual([1, 2]);
  });
});
