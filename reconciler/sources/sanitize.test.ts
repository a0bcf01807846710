// Credentials must never reach a message: URL userinfo and known secrets are removed wherever
// they appear, and nothing else in the text changes.
import { describe, it, expect } from 'vitest';
import { redact, sanitizeUrl } from './sanitize.js';

describe('sanitizeUrl', () => {
  it('drops user and password and keeps the rest byte for byte', () => {
    expect(sanitizeUrl('https://bob:s3cret@git.example.com:8443/org/repo.git?x=1#f')).toBe('https://git.example.com:8443/org/repo.git?x=1#f');
    expect(sanitizeUrl('https://ghp_token123@github.com/org/repo')).toBe('https://github.com/org/repo');
    expect(sanitizeUrl('https://github.com')).toBe('https://github.com');
  });

  it('leaves an @ in the path alone', () => {
    expect(sanitizeUrl('https://registry.example.com/@scope/pkg')).toBe('https://registry.example.com/@scope/pkg');
  });
});

describe('redact', () => {
  it('removes userinfo of every URL in a text', () => {
    const text = 'GET http://a:b@one.test/x failed, then https://tok@two.test/y too';
    expect(redact(text, [])).toBe('GET http://one.test/x failed, then https://two.test/y too');
  });

  it('masks each secret, raw and URL-encoded, and ignores empty secrets', () => {
    const secret = 'p@ss/word';
    const text = `token ${secret} in body, ${encodeURIComponent(secret)} in a query`;
    const clean = redact(text, ['', secret]);
    expect(clean).toBe('token *** in body, *** in a query');
    expect(clean).not.toContain('word');
  });

  it('masks a secret that contains another one whole', () => {
    expect(redact('abc123 and abc', ['abc', 'abc123'])).toBe('*** and ***');
  });
});
