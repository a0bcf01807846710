// Secret masking as a reader of the log sees it.
import { describe, expect, it } from 'vitest';
import { createMasker } from './mask.js';

describe('createMasker', () => {
  it('replaces every occurrence of every secret', () => {
    const mask = createMasker(['hunter2', 'tok-123']);
    expect(mask('pw hunter2 and tok-123, again hunter2')).toBe('pw *** and ***, again ***');
  });

  it('masks a secret containing another one whole', () => {
    expect(createMasker(['abc', 'xxabcxx'])('[xxabcxx] [abc]')).toBe('[***] [***]');
  });

  it('masks each line of a multi-line secret, CRLF ones too', () => {
    const mask = createMasker(['-----BEGIN KEY-----\r\nAAAABBBB\n\n-----END KEY-----\n']);
    expect(['-----BEGIN KEY-----', 'AAAABBBB', '', '-----END KEY-----'].map(mask)).toEqual(['***', '***', '', '***']);
  });

  it('ignores empty secrets and leaves text without secrets alone', () => {
    const mask = createMasker(['', '']);
    expect(mask('nothing to hide')).toBe('nothing to hide');
  });

  it('takes secrets with regular-expression characters literally', () => {
    expect(createMasker(['a.b*c$'])('a.b*c$ axbbc')).toBe('*** axbbc');
  });
});
