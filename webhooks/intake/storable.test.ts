// What PostgreSQL cannot store, found before the INSERT: NULs and lone surrogates in any text or
// key, with the path to them, and nesting past the depth limit — iteratively, at any depth.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/index.js';
import { parseJsonBody, utf8 } from './raw-body.js';
import { checkStorable, findUnstorable } from './storable.js';

const deep = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;

describe('findUnstorable', () => {
  it('passes what PostgreSQL stores: text with pairs of surrogates (emoji), numbers, nulls, nesting at the limit', () => {
    expect(findUnstorable({ a: ['x', 1, null, true, { '😀': 'ok 😀' }] }, 'body', 10)).toBeUndefined();
    expect(findUnstorable(deep(100), 'body', 100)).toBeUndefined();
  });

  it('names the place of a NUL or a lone surrogate, in a value or a key', () => {
    expect(findUnstorable({ a: { b: [0, 1, 2, 'x\u0000'] } }, 'body')).toMatch(/^body\.a\.b\[3\] contains a NUL character \(\\u0000\) at character 1, which cannot be stored/);
    expect(findUnstorable({ 'a b': '\ud800' }, 'body')).toMatch(/^body\["a b"\] contains a lone surrogate \(\\ud800/);
    expect(findUnstorable({ ok: 1, ['k\udc00']: 1 }, 'labels')).toMatch(/^labels\["k\\udc00"\] \(a key\) contains a lone surrogate \(\\udc00/);
    expect(findUnstorable('deploy\u0000', 'type')).toMatch(/^type contains a NUL/);
    expect(findUnstorable({ type: 't', subject: 's\u0000' }, '')).toMatch(/^subject contains a NUL/);
    // A high surrogate followed by a low one is a pair (one emoji), not a problem; reversed it is two lone halves.
    expect(findUnstorable('\udc00\ud800', 'body')).toMatch(/lone surrogate \(\\udc00/);
  });

  it('refuses nesting past the limit without recursing, even 1,000,000 deep', () => {
    expect(findUnstorable(deep(101), 'body', 100)).toMatch(/^body is nested deeper than 100 levels of objects and lists \(limits\.http\.maxDepth\), at body\[0\]\[0\].*…/);
    expect(findUnstorable(deep(1_000_000), 'body', 100)).toMatch(/nested deeper than 100 levels/);
  });

  it('checkStorable throws an ApiError 400', () => {
    try {
      checkStorable({ a: '\u0000' }, 'body');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(400);
    }
  });
});

describe('parseJsonBody and utf8', () => {
  it('refuses a JSON body with a NUL or lone surrogate escape, or nested past maxDepth, naming where', () => {
    expect(() => parseJsonBody('{"a":["\\u0000"]}')).toThrow(/body\.a\[0\] contains a NUL/);
    expect(() => parseJsonBody('{"a":"\\ud800"}')).toThrow(/body\.a contains a lone surrogate/);
    expect(() => parseJsonBody('['.repeat(5000) + ']'.repeat(5000), 100)).toThrow(/nested deeper than 100 levels/);
    // An escaped backslash before u0000 is the text "\u0000", which is storable.
    expect(parseJsonBody('{"a":"\\\\u0000"}')).toEqual({ a: '\\u0000' });
  });

  it('says near which byte a body is not UTF-8', () => {
    expect(() => utf8(Buffer.concat([Buffer.from('x'.repeat(1000)), Buffer.from([0xff, 0x41])]))).toThrow(/not valid UTF-8 \(a bad byte near offset (99[6-9]|1000)\)/);
  });
});
