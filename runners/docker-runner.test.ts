// The docker runner against a real Docker daemon started for this file (test/helpers/dockerd.ts):
// the shared conformance suite, then what only containers show: images missing, labels, removal
// after every ending, secrets kept out of the container's config, resource limits, start-up
// cleanup of leftovers, TLS, and a host that cannot be reached; and tasks without `commands`,
// which run their image as built (its entrypoint and cmd, no shell in the image).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnerConformance } from './conformance.js';
import { createDockerRunner, DOCKER_LABELS, type DockerRunnerOptions } from './docker-runner.js';
import type { LogLine, Runner, TaskExecution } from './runner.js';
import { PLAIN_IMAGE_SCRIPT, startDockerd, type TestDockerd } from '../test/helpers/dockerd.js';

// One daemon for the whole file. Started here, before the describes' own hooks, with time enough
// for apt-get to install docker.io on a fresh machine.
let daemon: Promise<TestDockerd> | undefined;
const dockerd = () => (daemon ??= startDockerd());
beforeAll(async () => {
  await dockerd();
}, 180_000);
afterAll(async () => {
  // A daemon that failed to start has stopped itself already.
  await daemon?.then((started) => started.stop(), () => undefined);
}, 60_000);

runnerConformance('docker', async () => {
  const { host, image } = await dockerd();
  const runner = createDockerRunner({ host, workerId: 'conformance' });
  // The suite gives no image: every execution gets the test image.
  const withImage: Runner = { ...runner, run: (execution, io) => runner.run({ ...execution, image }, io) };
  return { runner: withImage, cleanup: () => runner.close() };
});

describe('docker runner', () => {
  let env: TestDockerd;
  const runners: Runner[] = [];
  beforeAll(async () => {
    env = await dockerd();
  });
  afterAll(async () => {
    for (const runner of runners) await runner.close();
  });

  const runnerWith = (options: Partial<DockerRunnerOptions> = {}) => {
    const runner = createDockerRunner({ host: env.host, workerId: 'docker-test', killGraceMs: 1_000, ...options });
    runners.push(runner);
    return runner;
  };
  const run = async (execution: Partial<TaskExecution>, options: { runner?: Runner; signal?: AbortSignal; onLine?: (line: LogLine) => void | Promise<void> } = {}) => {
    const runner = options.runner ?? runnerWith();
    const lines: LogLine[] = [];
    const pending: Promise<void>[] = [];
    const full: TaskExecution = { runId: randomUUID(), task: 'docker', attempt: 1, commands: [], env: {}, outputs: [], secrets: [], image: env.image, ...execution };
    const result = await runner.run(full, {
      signal: options.signal ?? new AbortController().signal,
      onLine: (line) => {
        lines.push(line);
        const waiting = options.onLine?.(line);
        if (waiting) pending.push(waiting);
      },
    });
    await Promise.all(pending);
    const of = (stream: LogLine['stream']) => lines.filter((l) => l.stream === stream).map((l) => l.text);
    return { result, lines, stdout: of('stdout'), stderr: of('stderr'), system: of('system'), execution: full };
  };
  /** Every container of a run, stopped ones too. */
  const containersOf = (runId: string) => env.docker.listContainers({ all: true, filters: { label: [`${DOCKER_LABELS.run}=${runId}`] } });
  /** The one container of a run while it runs, inspected. */
  const inspectRunning = async (runId: string) => {
    const [info, ...others] = await containersOf(runId);
    expect(others).toEqual([]);
    expect(info?.State).toBe('running');
    return env.docker.getContainer(info!.Id).inspect();
  };

  it('fails clearly, without creating a container, when the image is missing and cannot be pulled', async () => {
    const { result, execution, system } = await run({ image: 'eventops-no-such-image:1', commands: ['echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null, outputs: {} });
    expect(result.error).toContain('the image "eventops-no-such-image:1" is not on the Docker host');
    expect(result.error).toContain('could not be pulled');
    expect(system.join('\n')).toContain('pulling');
    expect(await containersOf(execution.runId)).toEqual([]);
  });

  it('fails a task without an image', async () => {
    const { result } = await run({ image: undefined, commands: ['echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('needs an image');
  });

  it('labels the container and removes it after success and failure', async () => {
    for (const [commands, status] of [
      [['echo started', 'sleep 0.3'], 'succeeded'],
      [['echo started', 'sleep 0.3', 'exit 5'], 'failed'],
    ] as const) {
      let seen: Promise<Awaited<ReturnType<typeof inspectRunning>>> | undefined;
      const runId = randomUUID();
      const { result } = await run({ runId, task: 'build app', attempt: 3, commands: [...commands] }, { onLine: (line) => void (line.text === 'started' && (seen = inspectRunning(runId))) });
      expect(result.status).toBe(status);
      const inspected = await seen!;
      expect(inspected.Config.Labels).toEqual({
        [DOCKER_LABELS.managed]: 'true',
        [DOCKER_LABELS.run]: runId,
        [DOCKER_LABELS.task]: 'build app',
        [DOCKER_LABELS.attempt]: '3',
        [DOCKER_LABELS.worker]: 'docker-test',
      });
      expect(inspected.Name).toMatch(new RegExp(`^/eventops-build-app-${runId.slice(0, 8)}-3-[0-9a-f]{6}$`));
      expect(await containersOf(runId)).toEqual([]);
    }
  });

  it('labels a deadline on a task with a timeout, stops it with SIGTERM and removes it', async () => {
    const runId = randomUUID();
    let seen: Promise<Awaited<ReturnType<typeof inspectRunning>>> | undefined;
    const before = Date.now();
    // The task traps TERM: the wrapper passed it on, so it ends within the grace period.
    const { result, stdout, system } = await run(
      { runId, timeoutMs: 1_500, commands: ["trap 'echo got TERM; exit 1' TERM", 'echo started', 'sleep 30 & wait'] },
      { onLine: (line) => void (line.text === 'started' && (seen = inspectRunning(runId))) },
    );
    expect(result).toMatchObject({ status: 'timed_out', exitCode: null, error: 'timed out after 1.5s' });
    expect(stdout).toEqual(['started', 'got TERM']);
    expect(system.join('\n')).toContain('timed out after 1.5s: stopping the task');
    expect(system.join('\n')).not.toContain('SIGKILL');
    const deadline = Number((await seen!).Config.Labels[DOCKER_LABELS.deadline]);
    expect(deadline).toBeGreaterThanOrEqual(before + 1_500 + 1_000);
    expect(deadline).toBeLessThan(Date.now() + 1_500 + 1_000);
    expect(await containersOf(runId)).toEqual([]);
  });

  it('kills a task that ignores SIGTERM after the grace period, and removes its container', async () => {
    const runId = randomUUID();
    const { result, system } = await run({ runId, timeoutMs: 300, commands: ["trap '' TERM", 'echo started', 'sleep 30'] }, { runner: runnerWith({ killGraceMs: 500 }) });
    expect(result.status).toBe('timed_out');
    expect(system.join('\n')).toContain('still running 500ms after SIGTERM: SIGKILL');
    expect(await containersOf(runId)).toEqual([]);
  });

  it('removes the container of a cancelled task, and creates none when cancelled before the start', async () => {
    const runId = randomUUID();
    const abort = new AbortController();
    const { result } = await run({ runId, commands: ['echo started', 'sleep 30'] }, { signal: abort.signal, onLine: (line) => void (line.text === 'started' && abort.abort()) });
    expect(result).toMatchObject({ status: 'cancelled', exitCode: null });
    expect(await containersOf(runId)).toEqual([]);

    const early = new AbortController();
    early.abort();
    const before = await run({ commands: ['echo ran'] }, { signal: early.signal });
    expect(before.result.status).toBe('cancelled');
    expect(await containersOf(before.execution.runId)).toEqual([]);
  });

  it("keeps env values and secrets out of the container's config", async () => {
    const runId = randomUUID();
    const token = `tok-${randomUUID()}`;
    const abort = new AbortController();
    let config = '';
    const { result, stdout } = await run(
      { runId, timeoutMs: 20_000, env: { TOKEN: token, PLAIN: 'plain-value-xyz' }, secrets: [token], commands: ['echo "started $PLAIN"', 'echo "$TOKEN"', 'sleep 30'] },
      {
        signal: abort.signal,
        onLine: async (line) => {
          if (line.text !== '***') return;
          const inspected = await inspectRunning(runId);
          config = JSON.stringify(inspected);
          expect(inspected.Config.Env ?? []).not.toContainEqual(expect.stringContaining('TOKEN'));
          expect(inspected.Config.Entrypoint).toEqual(['sh', '-s']);
          abort.abort();
        },
      },
    );
    expect(result.status).toBe('cancelled');
    expect(stdout).toEqual(['started plain-value-xyz', '***']);
    expect(config).toContain(runId);
    expect(config).not.toContain(token);
    expect(config).not.toContain('plain-value-xyz');
  });

  it('applies the CPU and memory limits', async () => {
    const runId = randomUUID();
    let host: { NanoCpus?: number; Memory?: number } = {};
    const { result, stdout } = await run(
      { runId, resources: { cpu: 0.5, memoryBytes: 64 * 1024 * 1024 }, commands: ['cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes', 'sleep 0.5'] },
      { onLine: async (line) => void (line.stream === 'stdout' && (host = (await inspectRunning(runId)).HostConfig)) },
    );
    expect(result.status).toBe('succeeded');
    expect(host).toMatchObject({ NanoCpus: 500_000_000, Memory: 64 * 1024 * 1024 });
    expect(stdout).toEqual([String(64 * 1024 * 1024)]);
  });

  it("bypasses the image's entrypoint and keeps its environment", async () => {
    const base = await env.docker.createContainer({ Image: env.image, Cmd: ['true'] });
    try {
      await base.commit({ repo: 'eventops-test-entrypoint', tag: 'latest', changes: ['ENTRYPOINT ["/bin/false"]', 'ENV FROM_IMAGE=kept'] });
    } finally {
      await base.remove({ force: true });
    }
    const { result, stdout } = await run({ image: 'eventops-test-entrypoint:latest', commands: ['echo "from image: $FROM_IMAGE"'] });
    expect(result.status).toBe('succeeded');
    expect(stdout).toEqual(['from image: kept']);
  });

  it('says when the task was killed for going over its memory limit', async () => {
    const { result, stdout } = await run({ resources: { memoryBytes: 16 * 1024 * 1024 }, commands: ['echo before', 'dd if=/dev/zero of=/dev/null bs=100M count=1', 'echo after'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: 137, error: 'exit code 137 (killed for using more than its memory limit of 16 MiB)' });
    expect(stdout).toEqual(['before']);
  });

  it('removes managed leftovers at start-up: stopped ones and running ones past their deadline, nothing else', async () => {
    const mark = randomUUID();
    const make = async (labels: Record<string, string>, state: 'created' | 'exited' | 'running') => {
      const container = await env.docker.createContainer({ Image: env.image, Cmd: state === 'exited' ? ['true'] : ['sleep', '300'], Labels: { 'test.mark': mark, ...labels } });
      if (state !== 'created') await container.start();
      if (state === 'exited') await container.wait();
      return container.id;
    };
    const managed = { [DOCKER_LABELS.managed]: 'true' };
    const past = String(Date.now() - 3_600_000);
    const future = String(Date.now() + 3_600_000);
    const overdue = await make({ ...managed, [DOCKER_LABELS.deadline]: past }, 'running');
    const stopped = [await make(managed, 'created'), await make(managed, 'exited')];
    const kept = [await make({}, 'exited'), await make({ [DOCKER_LABELS.deadline]: past }, 'running'), await make({ ...managed, [DOCKER_LABELS.deadline]: future }, 'running'), await make(managed, 'running')];
    const present = async () => (await env.docker.listContainers({ all: true, filters: { label: [`test.mark=${mark}`] } })).map((c) => c.Id).sort();
    try {
      // By default, containers stopped only just now may still be another runner's: left alone.
      const patient = await run({ commands: ['true'] });
      expect(patient.result.status).toBe('succeeded');
      expect(patient.system.join('\n')).toContain('removed 1 leftover container of earlier attempts');
      expect(await present()).toEqual([...stopped, ...kept].sort());

      const runner = runnerWith({ leftoverAgeMs: 0 });
      const first = await run({ commands: ['echo ok'] }, { runner });
      expect(first.result.status).toBe('succeeded');
      expect(first.system.join('\n')).toContain('removed 2 leftover containers');
      expect(await present()).toEqual([...kept].sort());
      // Once per runner.
      const again = await run({ commands: ['echo ok'] }, { runner });
      expect(again.system.join('\n')).not.toContain('leftover');
    } finally {
      for (const id of [overdue, ...stopped, ...kept]) await env.docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    }
  });

  it('reaches a TLS endpoint with the CA and client certificate, and fails clearly without them', async () => {
    const runner = runnerWith({ host: env.tls.host, tls: { ca: env.tls.ca, cert: env.tls.cert, key: env.tls.key } });
    const { result, stdout } = await run({ commands: ['echo over tls'], outputs: [] }, { runner });
    expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
    expect(stdout).toEqual(['over tls']);

    const noClientCert = await run({ commands: ['echo ran'] }, { runner: runnerWith({ host: env.tls.host, tls: { ca: env.tls.ca } }) });
    expect(noClientCert.result).toMatchObject({ status: 'failed', exitCode: null });
    expect(noClientCert.result.error).toContain(`the Docker host ${env.tls.host} (TLS) cannot be reached`);
    expect(noClientCert.result.error).toContain('did not accept the client certificate');
    expect(noClientCert.stdout).toEqual([]);

    const wrongCa = await run({ commands: ['echo ran'] }, { runner: runnerWith({ host: env.tls.host, tls: { ca: env.tls.cert, cert: env.tls.cert, key: env.tls.key } }) });
    expect(wrongCa.result.error).toContain('cannot be reached');
  });

  it('fails clearly when the Docker host cannot be reached', async () => {
    const { result } = await run({ commands: ['echo ran'] }, { runner: runnerWith({ host: 'unix:///nonexistent/docker.sock' }) });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain('the Docker host unix:///nonexistent/docker.sock cannot be reached');
  });

  it('refuses hosts it cannot use when it is made', () => {
    expect(() => createDockerRunner({ host: 'ssh://deploy@build-host' })).toThrow('does not speak SSH');
    expect(() => createDockerRunner({ host: 'ftp://x' })).toThrow('is not one the docker runner can use');
    expect(() => createDockerRunner({ host: 'not a url' })).toThrow('is not a URL');
  });

  it('reports exit codes and stderr of the container, and masks secrets in errors', async () => {
    const { result, stderr } = await run({ shell: 'no-such-shell', commands: ['echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: 127, error: 'exit code 127' });
    expect(stderr.join('\n')).toContain('no-such-shell');

    const masked = await run({ image: 'eventops-missing-secret-name:1', secrets: ['eventops-missing-secret-name'], commands: ['true'] });
    expect(masked.result.error).not.toContain('eventops-missing-secret-name');
    expect(masked.result.error).toContain('***');
  });

  describe('a task without commands runs its image as built', () => {
    it('runs the entrypoint and cmd as the image user in its workdir, with the env, secrets masked, streams apart, an output, and removes the container', async () => {
      const runId = randomUUID();
      const token = `tok-${randomUUID()}`;
      let inspected: Awaited<ReturnType<typeof inspectRunning>> | undefined;
      const { result, stdout, stderr, system } = await run(
        { runId, image: env.plainImage, env: { GREETING: 'world', TOKEN: token, SLEEP: '0.5' }, secrets: [token], outputs: [{ name: 'answer' }] },
        // Once the start returned (the task's own lines may come before that): it sleeps for half a second then.
        { onLine: async (line) => void (line.stream === 'system' && line.text.startsWith('running in container') && (inspected = await inspectRunning(runId))) },
      );
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { answer: '42' } });
      expect(stdout).toEqual(['hello world as 1000 in /data', 'sleeping']);
      expect(stderr).toEqual(['token ***']);
      expect(system.join('\n')).toContain(`(image ${env.plainImage}, as built)`);
      // Nothing overridden: the image's own entrypoint, cmd and user; the env is the container's, like `docker run -e`.
      expect(inspected?.Config.Entrypoint).toEqual(['/bin/busybox', 'sh', '-c']);
      expect(inspected?.Config.Cmd).toEqual([PLAIN_IMAGE_SCRIPT]);
      expect(inspected?.Config.User).toBe('app');
      expect(inspected?.Config.Env).toEqual(expect.arrayContaining(['GREETING=world', 'EVENTOPS_OUTPUT=/.eventops/output', `EVENTOPS_RUN_ID=${runId}`]));
      expect(inspected?.Config.Labels[DOCKER_LABELS.run]).toBe(runId);
      expect(await containersOf(runId)).toEqual([]);
    });

    it('fails with the exit code, and reads no outputs then', async () => {
      const runId = randomUUID();
      const { result, stdout } = await run({ runId, image: env.plainImage, env: { GREETING: 'x', EXIT_CODE: '3' }, outputs: [{ name: 'answer' }] });
      expect(result).toEqual({ status: 'failed', exitCode: 3, outputs: {}, error: 'exit code 3' });
      expect(stdout).toEqual(['hello x as 1000 in /data']);
      expect(await containersOf(runId)).toEqual([]);
    });

    it('refuses fromEnv and fromFile outputs, before any container is made', async () => {
      for (const output of [{ name: 'version', fromEnv: 'VERSION' }, { name: 'report', fromFile: 'report.txt' }]) {
        const { result, execution, stdout } = await run({ image: env.plainImage, outputs: [output] });
        expect(result).toMatchObject({ status: 'failed', exitCode: null });
        expect(result.error).toContain(`output "${output.name}": \`${'fromEnv' in output ? 'fromEnv' : 'fromFile'}\` needs \`commands\``);
        expect(result.error).toContain('$EVENTOPS_OUTPUT');
        expect(stdout).toEqual([]);
        expect(await containersOf(execution.runId)).toEqual([]);
      }
    });

    it('stops it on timeout (SIGTERM, then SIGKILL: a shell as PID 1 ignores SIGTERM) and removes the container', async () => {
      const runId = randomUUID();
      const { result, system } = await run({ runId, image: env.plainImage, env: { SLEEP: '30' }, timeoutMs: 300 }, { runner: runnerWith({ killGraceMs: 500 }) });
      expect(result).toMatchObject({ status: 'timed_out', exitCode: null, error: 'timed out after 300ms' });
      expect(system.join('\n')).toContain("timed out after 300ms: stopping the task (SIGTERM to the container's main process)");
      expect(system.join('\n')).toContain('still running 500ms after SIGTERM: SIGKILL');
      expect(await containersOf(runId)).toEqual([]);
    });

    it('removes the container of a cancelled task', async () => {
      const runId = randomUUID();
      const abort = new AbortController();
      const { result } = await run({ runId, image: env.plainImage, env: { SLEEP: '30' } }, { signal: abort.signal, onLine: (line) => void (line.text === 'sleeping' && abort.abort()) });
      expect(result).toMatchObject({ status: 'cancelled', exitCode: null });
      expect(await containersOf(runId)).toEqual([]);
    });

    it('fails clearly when the image has nothing to run, or is missing', async () => {
      const empty = await run({ image: env.image });
      expect(empty.result).toMatchObject({ status: 'failed', exitCode: null });
      expect(empty.result.error).toBe(`the image "${env.image}" has neither ENTRYPOINT nor CMD, so a task without \`commands\` has nothing to run: give the task \`commands\`, or use an image built with an ENTRYPOINT or CMD`);
      expect(await containersOf(empty.execution.runId)).toEqual([]);

      const missing = await run({ image: 'eventops-no-such-image:2' });
      expect(missing.result).toMatchObject({ status: 'failed', exitCode: null });
      expect(missing.result.error).toContain('the image "eventops-no-such-image:2" is not on the Docker host');
    });

    it('reads name<<DELIM values, has no outputs when the file was removed, and fails on a line it cannot read', async () => {
      const base = await env.docker.createContainer({ Image: env.plainImage });
      const image = 'eventops-test-plain-outputs:latest';
      try {
        const cmd = 'if [ -n "$LINE" ]; then echo "$LINE" > "$EVENTOPS_OUTPUT"; else /bin/busybox rm "$EVENTOPS_OUTPUT"; fi';
        await base.commit({ repo: 'eventops-test-plain-outputs', tag: 'latest', changes: [`CMD ${JSON.stringify([cmd])}`] });
      } finally {
        await base.remove({ force: true });
      }
      const heredoc = await run({ image, env: { LINE: 'note<<END\nline one\nline two\nEND' } });
      expect(heredoc.result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { note: 'line one\nline two' } });
      const removed = await run({ image });
      expect(removed.result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
      const bad = await run({ image, env: { LINE: 'no equals sign' } });
      expect(bad.result).toEqual({ status: 'failed', exitCode: 0, outputs: {}, error: '$EVENTOPS_OUTPUT line 1: expected name=value or name<<DELIMITER' });
    });
  });

  it('rejects a run after close(), and close() is idempotent', async () => {
    const runner = createDockerRunner({ host: env.host });
    await runner.close();
    await runner.close();
    await expect(runner.run({ runId: randomUUID(), task: 't', attempt: 1, commands: ['true'], env: {}, outputs: [], secrets: [], image: env.image }, { signal: new AbortController().signal, onLine: () => undefined })).rejects.toThrow('closed');
  });
});
