// The pure parts of API tokens: their format, their hash, scopes and the new-token request.
import { describe, expect, it } from 'vitest';
import { parseNewToken, NewTokenError } from './new-token.js';
import { hasScope } from './scopes.js';
import { generateToken, hashToken } from './token.js';

describe('generateToken', () => {
  it('makes eo_ and 32 random bytes in base64url, different each time', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => generateToken()));
    expect(tokens.size).toBe(100);
    for (const token of tokens) {
      expect(token).toMatch(/^eo_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token.slice(3), 'base64url')).toHaveLength(32);
    }
  });
});

describe('hashToken', () => {
  it('is the hex sha256 of the token', () => {
    // sha256("abc") from FIPS 180-2, appendix B.1.
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const token = generateToken();
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(token)).not.toBe(hashToken(generateToken()));
  });
});

describe('hasScope', () => {
  it('lets every token read, admin do everything, others only their scopes', () => {
    expect(hasScope([], 'read')).toBe(true);
    expect(hasScope(['events:write'], 'read')).toBe(true);
    expect(hasScope(['admin'], 'runs:write')).toBe(true);
    expect(hasScope(['admin'], 'admin')).toBe(true);
    expect(hasScope(['events:write'], 'events:write')).toBe(true);
    expect(hasScope(['events:write'], 'runs:write')).toBe(false);
    expect(hasScope(['read', 'events:write', 'runs:write'], 'admin')).toBe(false);
  });

  it('lets an agent token connect and nothing else, not even read', () => {
    expect(hasScope(['agent:edge-1'], 'read')).toBe(false);
    expect(hasScope(['agent:edge-1'], 'events:write')).toBe(false);
    expect(hasScope(['agent:edge-1', 'read'], 'read')).toBe(true);
    expect(parseNewToken({ name: 'edge-1', scopes: ['agent:edge-1'] })).toEqual({ name: 'edge-1', scopes: ['agent:edge-1'] });
    expect(() => parseNewToken({ name: 'edge-1', scopes: ['agent:'] })).toThrow(/unknown scope "agent:"/);
  });
});

describe('parseNewToken', () => {
  it('accepts a name and known scopes, dropping repeated scopes', () => {
    expect(parseNewToken({ name: 'ci-2', scopes: ['runs:write', 'events:write', 'runs:write'] })).toEqual({ name: 'ci-2', scopes: ['runs:write', 'events:write'] });
    expect(parseNewToken({ name: 'a'.repeat(63), scopes: ['read'] }).name).toHaveLength(63);
  });

  it('names every problem at once', () => {
    let error: unknown;
    try {
      parseNewToken({ name: '-ci', scopes: ['write'], extra: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NewTokenError);
    expect((error as NewTokenError).problems).toEqual([
      'unknown field "extra"; allowed: name, scopes',
      'name must be lowercase letters, digits and "-", at most 63 (got "-ci")',
      'unknown scope "write": use one or more of read, events:write, runs:write, admin, or agent:<id> for an agent',
    ]);
    for (const bad of [null, 'ci', [], { scopes: ['read'] }, { name: 'ci' }, { name: 'ci', scopes: 'read' }, { name: 'ci-', scopes: ['read'] }, { name: 'a'.repeat(64), scopes: ['read'] }]) {
      expect(() => parseNewToken(bad), JSON.stringify(bad)).toThrow(NewTokenError);
    }
  });
});
