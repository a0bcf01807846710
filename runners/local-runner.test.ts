// The local runner: the shared conformance suite, then what only a runner on this host can show:
// no process of a task outlives it, the server's environment stays out, work folders go away.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runnerConformance } from './conformance.js';
import { createLocalRunner, type LocalRunnerOptions } from './local-runner.js';
import { processAlive } from './process-group.js';
import type { LogLine, TaskExecution } from './runner.js';

runnerConformance('local', async () => {
  const workRoot = mkdtempSync(join(tmpdir(), 'eventops-conformance-'));
  const runner = createLocalRunner({ workRoot });
  return {
    runner,
    async cleanup() {
      await runner.close();
      rmSync(workRoot, { recursive: true, force: true });
    },
  };
});

describe('local runner', () => {
  let workRoot: string;
  const started: number[] = [];
  beforeAll(() => {
    workRoot = mkdtempSync(join(tmpdir(), 'eventops-local-'));
  });
  afterAll(() => rmSync(workRoot, { recursive: true, force: true }));
  // A test that fails half-way must not leave its sleepers behind.
  afterEach(() => {
    for (const pid of started.splice(0)) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const run = async (execution: Partial<TaskExecution>, options: Partial<LocalRunnerOptions> & { signal?: AbortSignal; onLine?: (line: LogLine) => void } = {}) => {
    const { signal, onLine, ...runnerOptions } = options;
    const runner = createLocalRunner({ workRoot, ...runnerOptions });
    const lines: LogLine[] = [];
    const full: TaskExecution = { runId: randomUUID(), task: 'local', attempt: 1, commands: [], env: {}, outputs: [], secrets: [], ...execution };
    const result = await runner.run(full, {
      signal: signal ?? new AbortController().signal,
      onLine: (line) => {
        lines.push(line);
        onLine?.(line);
      },
    });
    await runner.close();
    const pids = lines.flatMap((l) => (/^pid \d+$/.test(l.text) ? [Number(l.text.slice(4))] : []));
    started.push(...pids);
    return { result, lines, pids, execution: full, stdout: lines.filter((l) => l.stream === 'stdout').map((l) => l.text) };
  };

  /** A background sleeper, its pid printed, then a foreground one: a task with a process tree. */
  const tree = ['sleep 300 & echo "pid $!"', 'sleep 300'];

  it('kills the whole process group on timeout', async () => {
    const { result, pids } = await run({ timeoutMs: 500, commands: tree });
    expect(result).toMatchObject({ status: 'timed_out', exitCode: null, error: 'timed out after 500ms' });
    expect(pids).toHaveLength(1);
    expect(processAlive(pids[0]!)).toBe(false);
  });

  it('kills the whole process group on cancel', async () => {
    const abort = new AbortController();
    const { result, pids } = await run({ commands: tree }, { signal: abort.signal, onLine: (line) => line.text.startsWith('pid ') && abort.abort() });
    expect(result).toMatchObject({ status: 'cancelled', exitCode: null, error: 'cancelled' });
    expect(processAlive(pids[0]!)).toBe(false);
  });

  it('gives processes that ignore SIGTERM the grace period, then SIGKILLs them', async () => {
    const commands = ["trap '' TERM", 'sleep 300 & echo "pid $!"', 'sleep 300'];
    const t0 = Date.now();
    const { result, pids, lines } = await run({ timeoutMs: 300, commands }, { killGraceMs: 700 });
    const ms = Date.now() - t0;
    expect(result.status).toBe('timed_out');
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5_000);
    expect(lines.some((l) => l.stream === 'system' && l.text.includes('SIGKILL'))).toBe(true);
    expect(processAlive(pids[0]!)).toBe(false);
  });

  it('lets a child that ignores SIGTERM use the grace period after the script itself died', async () => {
    const commands = [`sh -c "trap '' TERM; echo \\"pid \\$\\$\\"; sleep 300" &`, 'sleep 300'];
    const t0 = Date.now();
    const { result, pids } = await run({ timeoutMs: 300, commands }, { killGraceMs: 700 });
    expect(result.status).toBe('timed_out');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(pids).toHaveLength(1);
    expect(processAlive(pids[0]!)).toBe(false);
  });

  it('kills what a succeeded script left running in the background', async () => {
    const t0 = Date.now();
    const { result, pids } = await run({ commands: ['sleep 300 & echo "pid $!"', 'echo done'] });
    expect(result.status).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(processAlive(pids[0]!)).toBe(false);
  });

  it('is not held by a process that left the group and keeps stdout open', async () => {
    const t0 = Date.now();
    const { result, pids, lines } = await run({ commands: ['setsid sleep 300 & echo "pid $!"', 'sleep 1', 'echo done'] });
    expect(result.status).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(lines.some((l) => l.stream === 'system' && l.text.includes('output still open'))).toBe(true);
    expect(pids).toHaveLength(1); // killed by afterEach: out of the runner's reach
  });

  it("does not pass the server's environment to the task", async () => {
    process.env.EVENTOPS_SECRET_LEAK = 'x';
    process.env.DATABASE_URL_FOR_LEAK_TEST = 'postgres://user:pw@host/db';
    try {
      const { result, stdout } = await run({ env: { MINE: 'yes' }, commands: ['env'] });
      expect(result.status).toBe('succeeded');
      const names = stdout.flatMap((line) => (/^[A-Za-z_][A-Za-z0-9_]*=/.test(line) ? [line.slice(0, line.indexOf('='))] : []));
      expect(names).not.toContain('EVENTOPS_SECRET_LEAK');
      expect(names).not.toContain('DATABASE_URL_FOR_LEAK_TEST');
      expect(names).toContain('MINE');
      const allowed = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'PWD', 'OLDPWD', 'SHLVL', '_', 'MINE', 'EVENTOPS_RUN_ID', 'EVENTOPS_TASK', 'EVENTOPS_ATTEMPT', 'EVENTOPS_WORKSPACE', 'EVENTOPS_OUTPUT'];
      expect(names.filter((n) => !allowed.includes(n))).toEqual([]);
    } finally {
      delete process.env.EVENTOPS_SECRET_LEAK;
      delete process.env.DATABASE_URL_FOR_LEAK_TEST;
    }
  });

  it('removes the work folder after the attempt, or keeps it when asked', async () => {
    const removed = await run({ commands: ['echo "$EVENTOPS_WORKSPACE"', 'echo data > file.txt'] });
    expect(removed.result.status).toBe('succeeded');
    expect(existsSync(removed.stdout[0]!)).toBe(false);
    expect(existsSync(join(workRoot, removed.execution.runId))).toBe(false);

    const kept = await run({ commands: ['echo "$EVENTOPS_WORKSPACE"', 'echo data > file.txt'] }, { keepWorkFolders: true });
    expect(kept.stdout[0]).toBe(join(workRoot, kept.execution.runId, 'local-1'));
    expect(readdirSync(kept.stdout[0]!)).toEqual(['file.txt']);
  });

  it('removes the work folder after a timeout too', async () => {
    const { result, stdout } = await run({ timeoutMs: 300, commands: ['echo "$EVENTOPS_WORKSPACE"', 'sleep 30'] });
    expect(result.status).toBe('timed_out');
    expect(existsSync(stdout[0]!)).toBe(false);
  });

  it('gives each attempt a private TMPDIR, removed with it', async () => {
    const { result, stdout } = await run({ commands: ['echo "$TMPDIR"', 'touch "$TMPDIR/scratch"'] });
    expect(result.status).toBe('succeeded');
    expect(stdout[0]).not.toBe(tmpdir());
    expect(existsSync(stdout[0]!)).toBe(false);
  });

  it('refuses an absolute workdir and one climbing out, before running anything', async () => {
    for (const workdir of ['/etc', '..', 'a/../../b']) {
      const { result, stdout } = await run({ workdir, commands: ['echo ran'] });
      expect(result).toMatchObject({ status: 'failed', exitCode: null });
      expect(result.error).toContain(`workdir "${workdir}"`);
      expect(stdout).toEqual([]);
    }
  });

  it('refuses a fromEnv that is not a variable name', async () => {
    const { result, stdout } = await run({ commands: ['echo ran'], outputs: [{ name: 'x', fromEnv: 'A; rm -rf /' }] });
    expect(result.status).toBe('failed');
    expect(result.error).toContain('output "x"');
    expect(stdout).toEqual([]);
  });

  it('refuses a fromFile symbolic link leading out of the work folder', async () => {
    const { result } = await run({ commands: ['ln -s /etc/hostname link'], outputs: [{ name: 'host', fromFile: 'link' }] });
    expect(result.status).toBe('failed');
    expect(result.error).toContain('outside the work folder');
  });

  it('fails, without hanging, when a fromFile output is a FIFO or a folder', async () => {
    const { result } = await run({ commands: ['mkfifo report', 'mkdir folder'], outputs: [{ name: 'report', fromFile: 'report' }] });
    expect(result.error).toBe('output "report": file "report" is not a regular file');
    const folder = await run({ commands: ['mkdir folder'], outputs: [{ name: 'f', fromFile: 'folder' }] });
    expect(folder.result.error).toBe('output "f": file "folder" is not a regular file');
  });

  it('fails a task whose output is over maxOutputBytes', async () => {
    const big = await run({ commands: ['printf "%020d" 0 > big.txt'], outputs: [{ name: 'big', fromFile: 'big.txt' }] }, { maxOutputBytes: 10 });
    expect(big.result.status).toBe('failed');
    expect(big.result.error).toContain('larger than the limit of 10 bytes');
    const viaEnv = await run({ commands: ['V=01234567890'], outputs: [{ name: 'v', fromEnv: 'V' }] }, { maxOutputBytes: 10 });
    expect(viaEnv.result.error).toContain('output "v"');
    const viaFile = await run({ commands: ['echo "v=01234567890" >> "$EVENTOPS_OUTPUT"'] }, { maxOutputBytes: 10 });
    expect(viaFile.result.error).toContain('output "v"');
    const fits = await run({ commands: ['echo "v=0123456789" >> "$EVENTOPS_OUTPUT"'] }, { maxOutputBytes: 10 });
    expect(fits.result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { v: '0123456789' } });
  });

  it('fails a task whose $EVENTOPS_OUTPUT is malformed, saying where', async () => {
    const { result } = await run({ commands: ['echo "ok=1" >> "$EVENTOPS_OUTPUT"', 'echo "no equals sign" >> "$EVENTOPS_OUTPUT"'] });
    expect(result.status).toBe('failed');
    expect(result.error).toContain('$EVENTOPS_OUTPUT line 2');
  });

  it('fails with a clear error when the shell does not exist', async () => {
    const { result } = await run({ shell: 'no-such-shell-here', commands: ['echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('"no-such-shell-here" was not found');
  });

  it('runs the commands with the shell asked for', async () => {
    const { result, stdout } = await run({ shell: 'bash', commands: ['echo "${BASH_VERSION:+bash}"'] });
    expect(result.status).toBe('succeeded');
    expect(stdout).toEqual(['bash']);
  });

  it('fails a script killed by a signal it did not get from the runner', async () => {
    const { result } = await run({ commands: ['kill -9 $$'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null, error: 'killed by SIGKILL' });
  });

  it('rejects a run after close(), and close() is idempotent', async () => {
    const runner = createLocalRunner({ workRoot });
    await runner.close();
    await runner.close();
    await expect(runner.run({ runId: randomUUID(), task: 't', attempt: 1, commands: ['true'], env: {}, outputs: [], secrets: [] }, { signal: new AbortController().signal, onLine: () => undefined })).rejects.toThrow('closed');
  });

  it('rejects a run id or task that cannot name a folder', async () => {
    const runner = createLocalRunner({ workRoot });
    const io = { signal: new AbortController().signal, onLine: () => undefined };
    for (const runId of ['..', 'a/b', '']) {
      await expect(runner.run({ runId, task: 't', attempt: 1, commands: ['true'], env: {}, outputs: [], secrets: [] }, io)).rejects.toThrow('cannot name a folder');
    }
  });
});
