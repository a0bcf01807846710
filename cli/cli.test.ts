// The `eventops` command as users run it: the built bin, real files, exit codes and output.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_BOMB } from '../test/helpers/alias-bomb.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin/eventops.js');

/** `timeout`: kill the process after this many ms (0, the default: never). */
function eventops(args: string[], cwd = repo, timeout = 0): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eventops-cli-'));
  await writeFile(
    join(dir, 'good.yaml'),
    `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: here }
spec: { tags: [linux], local: {} }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: hello }
spec:
  tasks: [ { name: say, commands: [ "echo hi" ] } ]
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('eventops validate', () => {
  it('exits 0 and prints a summary for valid files', async () => {
    const { code, stdout } = await eventops(['validate', 'good.yaml'], dir);
    expect(code).toBe(0);
    expect(stdout).toBe('✓ 1 file, 2 definitions: 0 errors, 0 warnings\n');
  });

  it('exits 1 and prints file:line:col: error: message [rule] for invalid files', async () => {
    const { code, stdout } = await eventops(['validate', 'test/fixtures/broken/triggers.yaml']);
    expect(code).toBe(1);
    expect(stdout).toContain('test/fixtures/broken/triggers.yaml:6:20: error: unknown event source "gitlab"');
    expect(stdout).toMatch(/✗ 1 file, 4 definitions: \d+ errors, 0 warnings\n$/);
  });

  it('prints JSON with --output json', async () => {
    const { code, stdout } = await eventops(['validate', '--output', 'json', 'test/fixtures/broken/syntax.yaml']);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { valid: boolean; errors: number; warnings: number; diagnostics: { rule: string; line: number }[] };
    expect(report.valid).toBe(false);
    expect(report.diagnostics).toContainEqual(expect.objectContaining({ rule: 'duplicate-key', line: 5, column: 1, file: 'test/fixtures/broken/syntax.yaml' }));
    expect(report.errors + report.warnings).toBe(report.diagnostics.length);
  });

  it('exits 2 on usage errors', async () => {
    expect((await eventops(['validate', 'no/such/folder'])).code).toBe(2);
    expect((await eventops(['validate', '--output', 'xml', 'definitions-template'])).code).toBe(2);
    expect((await eventops(['validate', '--bogus'])).code).toBe(2);
    const missing = await eventops(['validate', 'no/such/folder']);
    expect(missing.stderr).toContain('no/such/folder: no such file or folder');
  });

  it('treats warnings as errors with --strict', async () => {
    await writeFile(join(dir, 'warn.yaml'), 'apiVersion: eventops.dev/v1\nkind: Pipeline\nmetadata: { name: w }\nspec: { tasks: [ { name: t, type: docker, image: alpine } ] }\n');
    expect((await eventops(['validate', 'warn.yaml'], dir)).code).toBe(0);
    expect((await eventops(['validate', '--strict', 'warn.yaml'], dir)).code).toBe(1);
  });

  it('refuses an alias bomb in a second or so, naming file:line (it used to run for minutes)', async () => {
    await writeFile(join(dir, 'bomb.yaml'), EVENT_BOMB);
    const started = performance.now();
    const { code, stdout } = await eventops(['validate', 'bomb.yaml'], dir, 20_000);
    expect(stdout).toContain('bomb.yaml:8:10: error: too many YAML aliases');
    expect(code).toBe(1);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('is also installed as eoctl and prints its version', async () => {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { bin: Record<string, string> };
    expect(pkg.bin.eoctl).toBe(pkg.bin.eventops);
    const { code, stdout } = await eventops(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('eventops convert', () => {
  it('prints original files in the v1 language', async () => {
    const { code, stdout } = await eventops(['convert', 'test/fixtures/legacy/hello-world/pipelineDefinition.yaml']);
    expect(code).toBe(0);
    expect(stdout).toContain('apiVersion: eventops.dev/v1\nkind: Pipeline\n');
    expect(stdout).toContain('type: ssh');
  });
});
