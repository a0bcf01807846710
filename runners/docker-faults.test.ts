// The docker runner when the daemon fails under it: a Docker host that accepts connections and
// never answers, and a real dockerd killed with SIGKILL in the middle of a task. Either way the
// attempt must end (failed, timed out or cancelled) within a bound, never hang for ever.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDockerRunner, DOCKER_LABELS } from './docker-runner.js';
import type { LogLine, Runner, TaskExecution, TaskResult } from './runner.js';
import { startDockerd, type TestDockerd } from '../test/helpers/dockerd.js';

/** A TCP server that accepts every connection and never writes a byte. */
async function startSilentServer(): Promise<{ host: string; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return {
    host: `tcp://127.0.0.1:${address.port}`,
    connections: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const execution = (image: string, extra: Partial<TaskExecution> = {}): TaskExecution => ({ runId: randomUUID(), task: 'faulty', attempt: 1, commands: ['echo started', 'sleep 120'], env: {}, outputs: [], secrets: [], image, ...extra });

async function timed(runner: Runner, exec: TaskExecution, signal: AbortSignal = new AbortController().signal, onLine?: (line: LogLine) => void): Promise<{ result: TaskResult; ms: number; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const started = performance.now();
  const result = await runner.run(exec, {
    signal,
    onLine: (line) => {
      lines.push(line);
      onLine?.(line);
    },
  });
  return { result, ms: performance.now() - started, lines };
}

describe('docker runner against a host that accepts and never answers', () => {
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  const runners: Runner[] = [];
  beforeAll(async () => {
    silent = await startSilentServer();
  });
  afterAll(async () => {
    for (const runner of runners) await runner.close();
    await silent.close();
  });

  it('fails the attempt at the API deadline, naming the host and the limit', async () => {
    const runner = createDockerRunner({ host: silent.host, apiTimeoutMs: 1_000 });
    runners.push(runner);
    const { result, ms, lines } = await timed(runner, execution('busybox', { timeoutMs: 60_000 }));
    expect(silent.connections()).toBeGreaterThan(0);
    expect(result.status).toBe('failed');
    expect(result.error).toContain(`${silent.host.replace('tcp://', 'tcp://')} did not answer within 1 s`);
    expect(result.error).toContain('limits.docker.apiTimeoutMs');
    // The leftover look-up (1 s) and the image look-up (1 s), with room for a busy machine.
    expect(ms).toBeLessThan(10_000);
    expect(lines.map((l) => l.text).join('\n')).toContain('could not look for leftover containers');
  }, 30_000);

  it('ends as cancelled at once when cancelled during a call that never returns', async () => {
    const runner = createDockerRunner({ host: silent.host });
    runners.push(runner);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const { result, ms } = await timed(runner, execution('busybox'), abort.signal);
    expect(result.status).toBe('cancelled');
    expect(ms).toBeLessThan(5_000);
  }, 30_000);
});

describe('docker runner when dockerd is killed with SIGKILL mid-task', () => {
  let dockerd: TestDockerd | undefined;
  afterEach(async () => {
    await dockerd?.stop();
    dockerd = undefined;
  }, 60_000);

  it('ends the attempt within its timeout plus a bound, whatever the dead daemon does', async () => {
    dockerd = await startDockerd();
    const daemon = dockerd;
    const runner = createDockerRunner({ host: daemon.host, killGraceMs: 1_000, apiTimeoutMs: 2_000 });
    try {
      const exec = execution(daemon.image, { timeoutMs: 4_000 });
      let killing: Promise<void> | undefined;
      const { result, ms, lines } = await timed(runner, exec, undefined, (line) => {
        if (line.text === 'started') killing ??= daemon.kill();
      });
      await killing;
      expect(killing).toBeDefined();
      expect(['failed', 'timed_out']).toContain(result.status);
      // Timeout 4 s + grace 1 s + one API deadline 2 s, and room for a busy machine.
      expect(ms).toBeLessThan(20_000);
      const text = lines.map((l) => l.text).join('\n');
      expect(result.error ?? text).toMatch(/cannot be reached|did not answer|did not confirm|timed out/);
      expect(DOCKER_LABELS.run).toBe('dev.eventops.run');
    } finally {
      await runner.close();
    }
  }, 120_000);
});
