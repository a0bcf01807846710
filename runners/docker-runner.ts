// The `docker` runner: one container per attempt, on a Docker host reached over a unix socket or
// TCP (with TLS when given). A task with `commands` runs the shared wrapper (remote-script.ts) as
// `sh -s`, fed on its stdin, so the task's environment and secrets never enter the container's
// config (`docker inspect` shows only the image, labels and limits); on exit the results file is
// copied out of the stopped container. A task without `commands` runs the image as built
// (docker-plain.ts): its entrypoint and cmd, the task's env in the container's Env, outputs from
// `$EVENTOPS_OUTPUT` copied out afterwards. Either way stdout and stderr arrive demultiplexed and
// become masked lines, timeout and cancel stop the container (docker-supervise.ts), and the
// container is always removed; managed containers left by a runner that died are removed at first use.
// Every API call has a deadline (`apiTimeoutMs`), and a cancel cuts short whatever call is under
// way, so a daemon that died or never answers ends the attempt instead of holding it for ever.
import { hostname } from 'node:os';
import Docker from 'dockerode';
import type { AttemptOwnership, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { executionProblem, parseResults, remoteScript } from './remote-script.js';
import { collectOutputs, OUTPUT_FILE_FACTOR } from './read-outputs.js';
import { DEFAULT_API_TIMEOUT_MS, dockerConnection, dockerMessage, dockerStep, DockerStepError, missedDeadline, statusOf, stepMessage, unreachable, withDeadline } from './docker-connection.js';
import { containerLabels, containerName } from './docker-labels.js';
import { removeLeftovers, stopOrphans, type Orphan } from './docker-leftovers.js';
import { outOfMemory, superviseContainer, type ContainerEnding, type Emit } from './docker-supervise.js';
import { readContainerFile } from './docker-archive.js';
import { durationText } from './duration-text.js';
import { PLAIN_OUTPUT_FILE, plainEnv, plainImageProblem, plainProblem, putOutputFolder, readPlainOutputs } from './docker-plain.js';
import { freshLooks } from './fresh-look.js';

export { DOCKER_LABELS } from './docker-labels.js';

export interface DockerRunnerOptions {
  /** `unix:///var/run/docker.sock` (default), or `tcp://host:port` (TLS when `tls` is given; port 2376 with TLS, else 2375). `ssh://` is refused: forward the socket instead. */
  host?: string;
  /** PEM texts (already-resolved secret values): CA, client cert, client key. For tcp:// hosts. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** For ssh:// hosts, which this runner does not support yet (see `host`). */
  ssh?: { privateKey?: string; password?: string };
  /** Largest value of one output in bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /** Between the stop signal and SIGKILL; default 5000 ms. */
  killGraceMs?: number;
  /** Recorded in a label on each container (`dev.eventops.worker`); default the host name. */
  workerId?: string;
  /**
   * Start-up cleanup leaves a managed container alone until it has been stopped (or running past
   * its deadline) this long, since another runner on the same Docker host may still be reading
   * it; default 60 000 ms.
   */
  leftoverAgeMs?: number;
  /** Deadline of each Docker API call, not of the task's own run (limits.docker.apiTimeoutMs); default 30 000 ms. */
  apiTimeoutMs?: number;
  /**
   * Whether a live worker still owns an attempt. With it, running containers of attempts nobody
   * owns (left by a killed server) are stopped by `reap()` and before each attempt starts its own.
   */
  ownership?: AttemptOwnership;
}

/** Where the wrapper makes the attempt's folder inside the container. */
const CONTAINER_ROOT = '/tmp';

/**
 * A runner of `docker` tasks. Throws when `host` is not one it can use. A Docker host that cannot
 * be reached, or an image that is missing and cannot be pulled, is a `failed` result naming the
 * host or the image, not a rejection: `run` rejects only once the runner is closed (or when
 * `io.onLine` threw). `timeoutMs` counts from the container's start, not from a pull; a task
 * killed by a signal ends with the shell's code for it (137 for SIGKILL), as it does in Docker.
 * An execution with no `commands` runs the image as built (see docker-plain.ts).
 */
export function createDockerRunner(options: DockerRunnerOptions): Runner {
  const connection = dockerConnection(options.host, options.tls);
  const docker = new Docker(connection.options);
  const settings: Settings = {
    docker,
    host: connection.display,
    maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
    killGraceMs: options.killGraceMs ?? 5_000,
    workerId: options.workerId ?? hostname(),
    apiTimeoutMs: options.apiTimeoutMs ?? DEFAULT_API_TIMEOUT_MS,
  };
  const leftoverAgeMs = options.leftoverAgeMs ?? 60_000;
  let closed = false;
  let active = 0;
  let cleanup: Promise<string[]> | undefined;
  let cleaned = false;
  // Once per runner, before its first container; retried by a later attempt when it failed. The
  // attempt that started it reports it; attempts started meanwhile wait for it too.
  const cleanOnce = async (emit: Emit, signal: AbortSignal): Promise<void> => {
    if (cleaned) return;
    const mine = cleanup === undefined;
    // Shared by the attempts that wait for it, so a cancel of one only stops that one's waiting.
    cleanup ??= removeLeftovers(docker, leftoverAgeMs, (what, call) => withDeadline(settings.host, what, settings.apiTimeoutMs, call));
    try {
      const removed = await untilAborted(cleanup, signal);
      cleaned = true;
      if (mine && removed.length > 0) emit('system', `removed ${removed.length} leftover container${removed.length === 1 ? '' : 's'} of earlier attempts: ${removed.join(', ')}`);
    } catch (error) {
      if (!mine || signal.aborted) return;
      cleanup = undefined;
      emit('system', `could not look for leftover containers on ${settings.host}: ${dockerMessage(error)}`);
    }
  };
  // One look at a time, each started after its callers asked (fresh-look.ts).
  const reapOrphans = freshLooks((): Promise<Orphan[]> => {
    const ownership = options.ownership;
    if (!ownership) return Promise.resolve([]);
    return stopOrphans(docker, ownership, (what, call) => withDeadline(settings.host, what, settings.apiTimeoutMs, call));
  });
  const beforeStart = async (emit: Emit, signal: AbortSignal): Promise<void> => {
    await cleanOnce(emit, signal);
    if (!options.ownership || signal.aborted) return;
    try {
      const orphans = await untilAborted(reapOrphans(), signal);
      for (const orphan of orphans) emit('system', `stopped an orphaned attempt ${orphan.attempt.attempt} of task ${orphan.attempt.task} (run ${orphan.attempt.runId}) left by a previous server (${orphan.what})`);
    } catch (error) {
      if (!signal.aborted) emit('system', `could not look for orphaned containers on ${settings.host}: ${dockerMessage(error)}`);
    }
  };
  return {
    type: 'docker',
    async reap() {
      if (closed) return [];
      return (await reapOrphans()).map((orphan) => `attempt ${orphan.attempt.attempt} of task ${orphan.attempt.task} (run ${orphan.attempt.runId}): ${orphan.what}`);
    },
    async run(execution, io) {
      if (closed) throw new Error('the docker runner is closed');
      active++;
      try {
        return await runAttempt(execution, io, settings, beforeStart);
      } finally {
        active--;
        if (closed && active === 0) connection.agent.destroy();
      }
    },
    // Attempts still running keep their connections until they end (they stop through their own
    // signal), but no longer than a stop takes: a call the daemon never answers must not keep the
    // process alive after its shutdown.
    async close() {
      closed = true;
      if (active === 0) connection.agent.destroy();
      else setTimeout(() => connection.agent.destroy(), settings.killGraceMs + settings.apiTimeoutMs).unref();
    },
  };
}

interface Settings {
  docker: Docker;
  /** The host as shown in messages, without credentials. */
  host: string;
  maxOutputBytes: number;
  killGraceMs: number;
  workerId: string;
  apiTimeoutMs: number;
}

async function runAttempt(execution: TaskExecution, io: RunnerIo, settings: Settings, beforeStart: (emit: Emit, signal: AbortSignal) => Promise<void>): Promise<TaskResult> {
  const { docker, host } = settings;
  const mask = createMasker(execution.secrets);
  // A throwing onLine is kept; the container is still stopped and removed, then run() rejects.
  const report = attemptReport(execution, io, mask);
  const { emit, ended } = report;
  const cancelledBeforeStart = () => {
    emit('system', 'cancelled before it started');
    return ended('cancelled', null, 'cancelled');
  };
  // Set once a call got no answer in time: the container's removal then goes on in the background.
  let unresponsive = false;
  /** One API call with its deadline, cut short by a cancel; a failure is a DockerStepError. */
  const step = async <T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    try {
      return await dockerStep(host, what, () => withDeadline(host, what, settings.apiTimeoutMs, call, io.signal));
    } catch (error) {
      if (missedDeadline(error)) unresponsive = true;
      throw error;
    }
  };

  if (io.signal.aborted) return cancelledBeforeStart();
  const image = execution.image ?? '';
  if (image === '') return ended('failed', null, 'a docker task needs an image: set `image` on the task');
  // No commands: the image runs as built, with no wrapper around it.
  const plain = execution.commands.length === 0;
  const problem = plain ? plainProblem(execution) : executionProblem(execution);
  if (problem) return ended('failed', null, problem);
  const script = plain ? undefined : remoteScript(execution, { root: CONTAINER_ROOT, maxOutputBytes: settings.maxOutputBytes, keepFolder: true });

  let container: Docker.Container | undefined;
  let result: TaskResult;
  try {
    result = await inContainer();
  } catch (error) {
    if (!(error instanceof DockerStepError)) throw error;
    // A call cut short by a cancel: the attempt is cancelled, whatever the daemon did.
    result = io.signal.aborted ? cancelledBeforeStart() : ended('failed', null, error.message);
  } finally {
    if (container) {
      const id = container.id;
      const removal = withDeadline(host, `remove the container ${id.slice(0, 12)}`, settings.apiTimeoutMs, (signal) => container!.remove({ force: true, abortSignal: signal })).catch((error: unknown) => {
        if (statusOf(error) !== 404) emit('system', `could not remove the container ${id.slice(0, 12)} on ${host}: ${dockerMessage(error)}; a later runner's start-up cleanup removes it once it stopped`);
      });
      // A daemon that stopped answering does not hold the attempt's end any longer: removal goes on alone.
      if (unresponsive) emit('system', `removing the container ${id.slice(0, 12)} in the background (the Docker host ${host} stopped answering)`);
      else await removal;
    }
  }
  return report.settle(result);

  /** Everything from the image to the result; the container it creates is left in `container` for removal. */
  async function inContainer(): Promise<TaskResult> {
    await beforeStart(emit, io.signal);
    if (io.signal.aborted) return cancelledBeforeStart();
    const found = await ensureImage(image);
    if (found === 'cancelled') return cancelledBeforeStart();
    if (typeof found === 'string') return ended('failed', null, found);
    if (plain) {
      const nothing = plainImageProblem(image, found);
      if (nothing) return ended('failed', null, nothing);
    }
    if (io.signal.aborted) return cancelledBeforeStart();

    const name = containerName(execution);
    const deadline = execution.timeoutMs === undefined ? undefined : Date.now() + execution.timeoutMs + settings.killGraceMs;
    const common = {
      name,
      Image: image,
      Tty: false,
      AttachStdout: true,
      AttachStderr: true,
      Labels: containerLabels(execution, settings.workerId, deadline),
      HostConfig: {
        ...(execution.resources?.cpu === undefined ? {} : { NanoCpus: Math.round(execution.resources.cpu * 1e9) }),
        ...(execution.resources?.memoryBytes === undefined ? {} : { Memory: Math.floor(execution.resources.memoryBytes) }),
      },
    };
    const created = await step(`create a container from the image "${image}"`, (signal) =>
      docker.createContainer({
        ...(plain
          ? // The image's own entrypoint, cmd, workdir and user; the task's env as the container's, like `docker run -e`.
            { ...common, Env: plainEnv(execution) }
          : // The image's entrypoint is bypassed: the wrapper needs `sh` itself, and nothing else may read its stdin.
            { ...common, Entrypoint: ['sh', '-s'], Cmd: [], Env: [], OpenStdin: true, StdinOnce: true, AttachStdin: true }),
        abortSignal: signal,
      }),
    );
    container = created;
    if (plain) await step(`put the outputs folder ${PLAIN_OUTPUT_FILE} into the container`, (signal) => putOutputFolder(created, signal));
    const stopSignal = plain ? (found.Config as { StopSignal?: string } | undefined)?.StopSignal || 'SIGTERM' : 'SIGTERM';
    const ending = await superviseContainer(created, {
      docker,
      host,
      emit,
      lines: report.lines,
      signal: io.signal,
      ...(execution.timeoutMs === undefined ? {} : { timeoutMs: execution.timeoutMs }),
      killGraceMs: settings.killGraceMs,
      apiTimeoutMs: settings.apiTimeoutMs,
      ...(script ? { stdin: script.text } : {}),
      stopSignal,
      // The wrapper passes the signal on to the task's whole tree; a plain image gets it as `docker stop` sends it.
      stopsWhat: plain ? "the container's main process" : 'its processes',
      started: `running in container ${name} (image ${image}${plain ? ', as built' : ''}) on ${host}`,
    });
    return plain ? plainResult(created, ending) : wrapperResult(created, ending, script!.resultsPath!);
  }

  /** The result of ending as the wrapper reported it in its results file. */
  async function wrapperResult(container: Docker.Container, ending: ContainerEnding, resultsPath: string): Promise<TaskResult> {
    const exit = await exitResult(container, ending);
    if (exit) return exit;
    const limit = (OUTPUT_FILE_FACTOR + execution.outputs.length) * settings.maxOutputBytes * 2 + 64 * 1024;
    let text: string;
    try {
      const read = await withDeadline(host, `copy ${resultsPath} out of the container`, settings.apiTimeoutMs, (signal) => readContainerFile(container, resultsPath, limit, signal));
      if (read.kind !== 'read') throw new Error(read.kind === 'too-big' ? `they are larger than ${limit} bytes` : `the file is ${read.kind === 'missing' ? 'missing' : 'not a regular file'}`);
      text = read.bytes.toString('utf8');
    } catch (error) {
      return ended('failed', 0, `the container exited with code 0 but its results (${resultsPath}) could not be read: ${dockerMessage(error)}`);
    }
    let parsed;
    try {
      parsed = parseResults(text);
    } catch (error) {
      return ended('failed', 0, `the container exited with code 0, but ${dockerMessage(error)}`);
    }
    if (parsed.exitCode !== 0) return ended('failed', parsed.exitCode, `exit code ${parsed.exitCode}`);
    const read = await collectOutputs(execution.outputs, parsed.source, settings.maxOutputBytes);
    return read.ok ? ended('succeeded', 0, undefined, read.outputs) : ended('failed', 0, read.error);
  }

  /** The result of an image run as built: its exit code, and its `$EVENTOPS_OUTPUT` lines. */
  async function plainResult(container: Docker.Container, ending: ContainerEnding): Promise<TaskResult> {
    const exit = await exitResult(container, ending);
    if (exit) return exit;
    try {
      const read = await withDeadline(host, `copy ${PLAIN_OUTPUT_FILE} out of the container`, settings.apiTimeoutMs, (signal) => readPlainOutputs(container, execution, settings.maxOutputBytes, signal));
      return read.ok ? ended('succeeded', 0, undefined, read.outputs) : ended('failed', 0, read.error);
    } catch (error) {
      return ended('failed', 0, `the container exited with code 0 but its outputs ($EVENTOPS_OUTPUT, ${PLAIN_OUTPUT_FILE}) could not be copied out of it on ${host}: ${dockerMessage(error)}`);
    }
  }

  /** The result when the container did not exit with code 0; undefined when it did. */
  async function exitResult(container: Docker.Container, ending: ContainerEnding): Promise<TaskResult | undefined> {
    switch (ending.kind) {
      case 'not_started':
        return cancelledBeforeStart();
      case 'stopped':
        if (ending.unconfirmed) unresponsive = true;
        return ending.why.kind === 'timed_out' ? ended('timed_out', null, `timed out after ${durationText(ending.why.afterMs)}`) : ended('cancelled', null, 'cancelled');
      case 'exited':
        return ending.code === 0 ? undefined : ended('failed', ending.code, `exit code ${ending.code}${await outOfMemory(container, host, settings.apiTimeoutMs)}`);
      default:
        return assertNever(ending);
    }
  }

  /** The image's description when it is there (pulled if need be), else why not, or 'cancelled'. */
  async function ensureImage(image: string): Promise<Docker.ImageInspectInfo | string | 'cancelled'> {
    try {
      return await withDeadline(host, `look up the image "${image}"`, settings.apiTimeoutMs, () => docker.getImage(image).inspect(), io.signal);
    } catch (error) {
      if (io.signal.aborted) return 'cancelled';
      if (missedDeadline(error)) unresponsive = true;
      if (statusOf(error) !== 404) throw new DockerStepError(stepMessage(`look up the image "${image}"`, host, error), { cause: error });
    }
    emit('system', `the image ${image} is not on ${host}: pulling it`);
    try {
      const progress = await docker.pull(image, { abortSignal: io.signal });
      const events = await new Promise<unknown[]>((resolve, reject) => docker.modem.followProgress(progress, (error: Error | null, output: unknown[]) => (error ? reject(error) : resolve(output))));
      const failure = events.find((event): event is { error: unknown } => typeof event === 'object' && event !== null && 'error' in event);
      if (failure) throw new Error(String(failure.error));
      return await withDeadline(host, `look up the image "${image}"`, settings.apiTimeoutMs, () => docker.getImage(image).inspect(), io.signal);
    } catch (error) {
      if (io.signal.aborted) return 'cancelled';
      if (unreachable(error)) throw new DockerStepError(stepMessage(`pull the image "${image}"`, host, error), { cause: error });
      return `the image "${image}" is not on the Docker host ${host} and could not be pulled: ${dockerMessage(error)}`;
    }
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
