// The `limits:` section: defaults when absent, units parsed, bad values named with their key.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_LIMITS, loadConfig, parseByteSize } from './index.js';

function load(yaml: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'limits-'));
  writeFileSync(join(dir, 'eventops.yaml'), yaml);
  return loadConfig({ cwd: dir, env });
}

describe('limits', () => {
  it('defaults every limit when the section is absent', () => {
    expect(load('server: { port: 0 }\n').limits).toEqual(DEFAULT_LIMITS);
  });

  it('reads sizes, durations and counts, and environment overrides', () => {
    const { limits } = load('limits:\n  http: { maxBodySize: 1MiB, bodyTimeout: 5s }\n  logs: { taskLogSize: 2000000 }\n', { EVENTOPS__LIMITS__JOBS__MAX_CRASHES: '3' });
    expect(limits.http.maxBodyBytes).toBe(1024 * 1024);
    expect(limits.http.bodyTimeoutMs).toBe(5000);
    expect(limits.logs.taskLogBytes).toBe(2_000_000);
    expect(limits.jobs.maxCrashes).toBe(3);
    expect(limits.http.maxConnections).toBe(DEFAULT_LIMITS.http.maxConnections);
  });

  it('names the key of a bad value', () => {
    expect(() => load('limits:\n  http: { maxBodySize: lots }\n')).toThrow(ConfigError);
    expect(() => load('limits:\n  http: { maxBodySize: lots }\n')).toThrow(/limits\.http\.maxBodySize/);
  });

  it('parses byte sizes', () => {
    expect(parseByteSize('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseByteSize('512MB')).toBe(512_000_000);
    expect(parseByteSize('64 KiB')).toBe(65536);
    expect(parseByteSize(42)).toBe(42);
    expect(parseByteSize('ten')).toBeUndefined();
  });
});
