// The `docker` runner: one container per attempt, on a Docker host reached over a unix socket or
// TCP (with TLS when given). The container runs the shared wrapper (remote-script.ts) as `sh -s`,
// fed on its stdin, so the task's environment and secrets never enter the container's config
// (`docker inspect` shows only the image, labels and limits). Its stdout and stderr arrive
// demultiplexed and become masked lines; on exit the results file is copied out of the stopped
// container and read like the local runner's outputs. Timeout and cancel send SIGTERM (the
// wrapper passes it to the task's whole tree), then SIGKILL after the grace period. The container
// is always removed; managed containers left by a runner that died are removed at first use.
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Writable, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { extract } from 'tar-stream';
import type { LogStream, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { createLineSplitter } from './line-splitter.js';
import { executionProblem, parseResults, remoteScript } from './remote-script.js';
import { collectOutputs, sizeText } from './read-outputs.js';
import { durationText } from './duration-text.js';

export interface DockerRunnerOptions {
  /** `unix:///var/run/docker.sock` (default), or `tcp://host:port` (TLS when `tls` is given; port 2376 with TLS, else 2375). `ssh://` is refused: forward the socket instead. */
  host?: string;
  /** PEM texts (already-resolved secret values): CA, client cert, client key. For tcp:// hosts. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** For ssh:// hosts, which this runner does not support yet (see `host`). */
  ssh?: { privateKey?: string; password?: string };
  /** Largest value of one output in bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /** Between stop's SIGTERM and SIGKILL; default 5000 ms. */
  killGraceMs?: number;
  /** Recorded in a label on each container (`dev.eventops.worker`); default the host name. */
  workerId?: string;
  /**
   * Start-up cleanup leaves a managed container alone until it has been stopped (or running past
   * its deadline) this long, since another runner on the same Docker host may still be reading
   * it; default 60 000 ms.
   */
  leftoverAgeMs?: number;
}

/** The labels every container of this runner carries; cleanup touches only `managed=true` ones. */
export const DOCKER_LABELS = {
  managed: 'dev.eventops.managed',
  run: 'dev.eventops.run',
  task: 'dev.eventops.task',
  attempt: 'dev.eventops.attempt',
  worker: 'dev.eventops.worker',
  /** Epoch ms by which the runner will have killed the container (timeout + grace); only with a timeout. */
  deadline: 'dev.eventops.deadline',
} as const;

/** Where the wrapper makes the attempt's folder inside the container. */
const CONTAINER_ROOT = '/tmp';
/** How long output may still come once the container exited. */
const DRAIN_MS = 2_000;
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A runner of `docker` tasks. Throws when `host` is not one it can use. A Docker host that cannot
 * be reached, or an image that is missing and cannot be pulled, is a `failed` result naming the
 * host or the image, not a rejection: `run` rejects only once the runner is closed (or when
 * `io.onLine` threw). `timeoutMs` counts from the container's start, not from a pull; a task
 * killed by a signal ends with the shell's code for it (137 for SIGKILL), as it does in Docker.
 */
export function createDockerRunner(options: DockerRunnerOptions): Runner {
  const connection = dockerConnection(options);
  const docker = new Docker(connection.options);
  const settings: Settings = {
    docker,
    host: connection.display,
    maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
    killGraceMs: options.killGraceMs ?? 5_000,
    workerId: options.workerId ?? hostname(),
  };
  const leftoverAgeMs = options.leftoverAgeMs ?? 60_000;
  let closed = false;
  let active = 0;
  let cleanup: Promise<string[]> | undefined;
  let cleaned = false;
  // Once per runner, before its first container; retried by a later attempt when it failed. The
  // attempt that started it reports it; attempts started meanwhile wait for it too.
  const cleanOnce = async (emit: Emit): Promise<void> => {
    if (cleaned) return;
    const mine = cleanup === undefined;
    cleanup ??= removeLeftovers(docker, leftoverAgeMs);
    try {
      const removed = await cleanup;
      cleaned = true;
      if (mine && removed.length > 0) emit('system', `removed ${removed.length} leftover container${removed.length === 1 ? '' : 's'} of earlier attempts: ${removed.join(', ')}`);
    } catch (error) {
      if (!mine) return;
      cleanup = undefined;
      emit('system', `could not look for leftover containers on ${settings.host}: ${dockerMessage(error)}`);
    }
  };
  return {
    type: 'docker',
    async run(execution, io) {
      if (closed) throw new Error('the docker runner is closed');
      active++;
      try {
        return await runAttempt(execution, io, settings, cleanOnce);
      } finally {
        active--;
        if (closed && active === 0) connection.agent.destroy();
      }
    },
    // Attempts still running keep their connections until they end (they stop through their own signal).
    async close() {
      closed = true;
      if (active === 0) connection.agent.destroy();
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
}

type Emit = (stream: LogStream, text: string) => void;
type Stop = { kind: 'timed_out'; afterMs: number } | { kind: 'cancelled' };

/** A Docker call that failed: its message says what could not be done where. */
class DockerStepError extends Error {}

async function runAttempt(execution: TaskExecution, io: RunnerIo, settings: Settings, cleanOnce: (emit: Emit) => Promise<void>): Promise<TaskResult> {
  const { docker, host } = settings;
  const mask = createMasker(execution.secrets);
  // A throwing onLine is kept; the container is still stopped and removed, then run() rejects.
  const report = attemptReport(execution, io, mask);
  const emit: Emit = report.emit;
  const { ended } = report;
  const cancelledBeforeStart = () => {
    emit('system', 'cancelled before it started');
    return ended('cancelled', null, 'cancelled');
  };
  /** Runs one Docker call; a failure becomes a DockerStepError saying what and where. */
  const step = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw new DockerStepError(stepMessage(what, host, error), { cause: error });
    }
  };

  if (io.signal.aborted) return cancelledBeforeStart();
  const image = execution.image ?? '';
  if (image === '') return ended('failed', null, 'a docker task needs an image: set `image` on the task');
  const problem = executionProblem(execution);
  if (problem) return ended('failed', null, problem);
  const script = remoteScript(execution, { root: CONTAINER_ROOT, maxOutputBytes: settings.maxOutputBytes, keepFolder: true });
  // Always set when a root is given.
  const resultsPath = script.resultsPath!;

  let container: Docker.Container | undefined;
  let result: TaskResult;
  try {
    result = await inContainer();
  } catch (error) {
    if (!(error instanceof DockerStepError)) throw error;
    result = ended('failed', null, error.message);
  } finally {
    if (container) {
      const id = container.id;
      await container.remove({ force: true }).catch((error: unknown) => {
        if (statusOf(error) !== 404) emit('system', `could not remove the container ${id.slice(0, 12)} on ${host}: ${dockerMessage(error)}; a later runner's start-up cleanup removes it once it stopped`);
      });
    }
  }
  return report.settle(result);

  /** Everything from the image to the result; the container it creates is left in `container` for removal. */
  async function inContainer(): Promise<TaskResult> {
    await cleanOnce(emit);
    const missing = await ensureImage(image);
    if (missing === 'cancelled') return cancelledBeforeStart();
    if (missing !== undefined) return ended('failed', null, missing);
    if (io.signal.aborted) return cancelledBeforeStart();

    const name = containerName(execution);
    const createdAt = Date.now();
    container = await step(`create a container from the image "${image}"`, () =>
      docker.createContainer({
        name,
        Image: image,
        // The image's entrypoint is bypassed: the wrapper needs `sh` itself, and nothing else may read its stdin.
        Entrypoint: ['sh', '-s'],
        Cmd: [],
        Env: [],
        Tty: false,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Labels: {
          [DOCKER_LABELS.managed]: 'true',
          [DOCKER_LABELS.run]: execution.runId,
          [DOCKER_LABELS.task]: execution.task,
          [DOCKER_LABELS.attempt]: String(execution.attempt),
          [DOCKER_LABELS.worker]: settings.workerId,
          ...(execution.timeoutMs === undefined ? {} : { [DOCKER_LABELS.deadline]: String(createdAt + execution.timeoutMs + settings.killGraceMs) }),
        },
        HostConfig: {
          ...(execution.resources?.cpu === undefined ? {} : { NanoCpus: Math.round(execution.resources.cpu * 1e9) }),
          ...(execution.resources?.memoryBytes === undefined ? {} : { Memory: Math.floor(execution.resources.memoryBytes) }),
        },
      }),
    );
    return runContainer(container, name);
  }

  /** Undefined when the image is there (pulled if need be), else why not, or 'cancelled'. */
  async function ensureImage(image: string): Promise<string | undefined | 'cancelled'> {
    try {
      await docker.getImage(image).inspect();
      return undefined;
    } catch (error) {
      if (statusOf(error) !== 404) throw new DockerStepError(stepMessage(`look up the image "${image}"`, host, error), { cause: error });
    }
    emit('system', `the image ${image} is not on ${host}: pulling it`);
    try {
      const progress = await docker.pull(image, { abortSignal: io.signal });
      const events = await new Promise<unknown[]>((resolve, reject) => docker.modem.followProgress(progress, (error: Error | null, output: unknown[]) => (error ? reject(error) : resolve(output))));
      const failure = events.find((event): event is { error: unknown } => typeof event === 'object' && event !== null && 'error' in event);
      if (failure) throw new Error(String(failure.error));
      await docker.getImage(image).inspect();
      return undefined;
    } catch (error) {
      if (io.signal.aborted) return 'cancelled';
      if (unreachable(error)) throw new DockerStepError(stepMessage(`pull the image "${image}"`, host, error), { cause: error });
      return `the image "${image}" is not on the Docker host ${host} and could not be pulled: ${dockerMessage(error)}`;
    }
  }

  async function runContainer(container: Docker.Container, name: string): Promise<TaskResult> {
    // Attached before the start, so no output is lost and stdin is ours.
    const stream = (await step('attach to the container', () => container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }))) as NodeJS.ReadWriteStream & Readable;
    try {
      return await superviseContainer(container, name, stream);
    } finally {
      stream.destroy();
    }
  }

  async function superviseContainer(container: Docker.Container, name: string, stream: NodeJS.ReadWriteStream & Readable): Promise<TaskResult> {
    const output = readOutput(docker, stream, emit);
    if (io.signal.aborted) return cancelledBeforeStart();
    await step('start the container', () => container.start());
    emit('system', `running in container ${name} (image ${image}) on ${host}`);
    stream.write(script.text);
    stream.end();

    let stopping: Stop | undefined;
    let exited = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const signal = async (name: 'SIGTERM' | 'SIGKILL') => {
      try {
        await container.kill({ signal: name });
      } catch (error) {
        // 409: it is no longer running, which is what was wanted.
        if (!exited && statusOf(error) !== 409 && statusOf(error) !== 404) emit('system', `could not send ${name} to the container: ${dockerMessage(error)}`);
      }
    };
    const stop = (why: Stop) => {
      if (stopping || exited) return;
      stopping = why;
      emit('system', `${why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)}` : 'cancelled'}: stopping the task (SIGTERM to its processes)`);
      void signal('SIGTERM');
      graceTimer = setTimeout(() => {
        if (exited) return;
        emit('system', `still running ${durationText(settings.killGraceMs)} after SIGTERM: SIGKILL`);
        void signal('SIGKILL');
      }, Math.min(settings.killGraceMs, MAX_TIMER_MS));
    };
    const onAbort = () => stop({ kind: 'cancelled' });
    io.signal.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = execution.timeoutMs;
    const timeout = timeoutMs === undefined ? undefined : setTimeout(() => stop({ kind: 'timed_out', afterMs: timeoutMs }), Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS));
    // Aborted between the check above and the listener: stop it now.
    if (io.signal.aborted) onAbort();

    let status: { StatusCode?: unknown };
    try {
      status = (await step('wait for the container to end', () => container.wait())) as { StatusCode?: unknown };
    } finally {
      exited = true;
      clearTimeout(timeout);
      clearTimeout(graceTimer);
      io.signal.removeEventListener('abort', onAbort);
    }
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([output.then(() => true), new Promise<boolean>((resolve) => (drainTimer = setTimeout(() => resolve(false), DRAIN_MS)))]);
    clearTimeout(drainTimer);
    if (!drained) emit('system', `output still open ${durationText(DRAIN_MS)} after the container ended; no longer reading it`);

    const stopped = stopping as Stop | undefined;
    if (stopped?.kind === 'timed_out') return ended('timed_out', null, `timed out after ${durationText(stopped.afterMs)}`);
    if (stopped?.kind === 'cancelled') return ended('cancelled', null, 'cancelled');
    const code = typeof status.StatusCode === 'number' ? status.StatusCode : -1;
    if (code !== 0) return ended('failed', code, `exit code ${code}${await outOfMemory(container)}`);

    let text: string;
    try {
      text = await readResults(container, resultsPath);
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
}

/** Lines of the attach stream, demultiplexed; resolves when the stream is closed. */
function readOutput(docker: Docker, stream: NodeJS.ReadWriteStream & Readable, emit: Emit): Promise<void> {
  const sink = (name: 'stdout' | 'stderr') => {
    const splitter = createLineSplitter((text) => emit(name, text));
    const writable = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        splitter.write(chunk);
        callback();
      },
    });
    return { splitter, writable };
  };
  const stdout = sink('stdout');
  const stderr = sink('stderr');
  docker.modem.demuxStream(stream, stdout.writable, stderr.writable);
  return new Promise((resolve) => {
    let open = true;
    const end = () => {
      if (!open) return;
      open = false;
      stdout.splitter.end();
      stderr.splitter.end();
      resolve();
    };
    stream.on('error', (error: Error) => {
      if (open) emit('system', `reading the container's output failed: ${error.message}`);
      end();
    });
    stream.once('end', end);
    stream.once('close', end);
  });
}

/** The text of the results file, copied out of the (stopped) container as a tar archive. */
async function readResults(container: Docker.Container, path: string): Promise<string> {
  const archive = (await container.getArchive({ path })) as NodeJS.ReadableStream & Readable;
  const unpack = extract();
  archive.on('error', (error) => unpack.destroy(error));
  archive.pipe(unpack);
  let found: Buffer | undefined;
  for await (const entry of unpack) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (found === undefined && entry.header.type === 'file') found = Buffer.concat(chunks);
  }
  if (found === undefined) throw new Error('the archive holds no file');
  return found.toString('utf8');
}

/** ` (out of memory: …)` when the container was killed for using too much memory, else ''. */
async function outOfMemory(container: Docker.Container): Promise<string> {
  try {
    const info = await container.inspect();
    const limit = info.HostConfig.Memory;
    return info.State.OOMKilled ? ` (killed for using more than its memory limit${limit ? ` of ${sizeText(limit)}` : ''})` : '';
  } catch {
    // Only a hint: the exit code says the rest.
    return '';
  }
}

/**
 * Removes what runners that died left behind: managed containers stopped (or never started) for
 * `ageMs` or more, and running ones more than `ageMs` past their deadline. Returns their names.
 * Containers without the managed label are never touched.
 */
async function removeLeftovers(docker: Docker, ageMs: number): Promise<string[]> {
  const now = Date.now();
  const containers = await docker.listContainers({ all: true, filters: { label: [`${DOCKER_LABELS.managed}=true`] } });
  const removed: string[] = [];
  for (const info of containers) {
    if (info.Labels?.[DOCKER_LABELS.managed] !== 'true') continue;
    if (!(await isLeftover(docker, info, now, ageMs))) continue;
    try {
      await docker.getContainer(info.Id).remove({ force: true });
      removed.push((info.Names?.[0] ?? info.Id.slice(0, 12)).replace(/^\//, ''));
    } catch (error) {
      // Gone already, or being removed by someone else.
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
    }
  }
  return removed;
}

async function isLeftover(docker: Docker, info: Docker.ContainerInfo, now: number, ageMs: number): Promise<boolean> {
  switch (info.State) {
    case 'running':
    case 'paused':
    case 'restarting': {
      const deadline = info.Labels?.[DOCKER_LABELS.deadline];
      return deadline !== undefined && /^\d+$/.test(deadline) && Number(deadline) + ageMs <= now;
    }
    case 'created':
      return now - info.Created * 1000 >= ageMs;
    case 'exited':
    case 'dead': {
      if (ageMs <= 0) return true;
      try {
        const finished = Date.parse((await docker.getContainer(info.Id).inspect()).State.FinishedAt);
        return Number.isFinite(finished) && now - finished >= ageMs;
      } catch (error) {
        if (statusOf(error) === 404) return false;
        throw error;
      }
    }
    default:
      // `removing`, or a state this runner does not know: not its to touch.
      return false;
  }
}

/** A readable container name: `eventops-<task>-<run>-<attempt>-<random>`, in Docker's name characters. */
function containerName(execution: TaskExecution): string {
  const part = (text: string, max: number) => text.replace(/[^a-zA-Z0-9_.-]+/g, '-').slice(0, max).replace(/^[-.]+|[-.]+$/g, '') || 'x';
  return `eventops-${part(execution.task, 40)}-${part(execution.runId, 8)}-${execution.attempt}-${randomBytes(3).toString('hex')}`;
}

interface Connection {
  options: Docker.DockerOptions & { agent: http.Agent };
  /** Owned by the runner, so close() can release its sockets. */
  agent: http.Agent;
  display: string;
}

/** dockerode's options for `host` (and `tls`); throws for a host this runner cannot use. */
function dockerConnection(options: DockerRunnerOptions): Connection {
  const host = options.host ?? 'unix:///var/run/docker.sock';
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new Error(`the Docker host "${host}" is not a URL: give unix:///path/to/docker.sock or tcp://host:port`);
  }
  switch (url.protocol) {
    case 'unix:': {
      if (url.pathname === '' || url.pathname === '/') throw new Error(`the Docker host "${host}" names no socket: give unix:///path/to/docker.sock`);
      const agent = new http.Agent({ keepAlive: true });
      return { options: { socketPath: decodeURIComponent(url.pathname), agent }, agent, display: `unix://${url.pathname}` };
    }
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const tls = options.tls !== undefined || url.protocol === 'https:';
      const port = url.port === '' ? (tls ? 2376 : 2375) : Number(url.port);
      const display = `tcp://${url.hostname}:${port}`;
      if (!tls) {
        const agent = new http.Agent({ keepAlive: true });
        return { options: { host: url.hostname, port, protocol: 'http', agent }, agent, display };
      }
      const agent = new https.Agent({ keepAlive: true });
      const { ca, cert, key } = options.tls ?? {};
      return { options: { host: url.hostname, port, protocol: 'https', agent, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) }, agent, display: `${display} (TLS)` };
    }
    case 'ssh:':
      throw new Error(`the Docker host ssh://${url.host} cannot be used: the docker runner does not speak SSH; forward the remote socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock ${url.host}) and use unix:///tmp/docker.sock, or expose the daemon over tcp:// with TLS`);
    default:
      throw new Error(`the Docker host "${url.protocol}//${url.host}${url.pathname}" is not one the docker runner can use: give unix:///path/to/docker.sock or tcp://host:port`);
  }
}

/** The HTTP status of a failed Docker API call, if it got that far. */
function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The daemon's own message when there is one (dockerode wraps it in `(HTTP code …) … - `); OpenSSL's reason alone. */
function dockerMessage(error: unknown): string {
  const json = (error as { json?: unknown } | undefined)?.json;
  if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') return (json as { message: string }).message;
  const message = (error instanceof Error ? error.message : String(error)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(message);
  if (!ssl) return message;
  const reason = `TLS: ${ssl[1]}`;
  return /bad certificate|certificate required/.test(reason) ? `${reason} (the daemon did not accept the client certificate: give tls.cert and tls.key, signed by the CA the daemon trusts)` : reason;
}

/** True when the failure is reaching the daemon at all (socket, network or TLS), not a refusal by it. */
function unreachable(error: unknown): boolean {
  if (statusOf(error) !== undefined) return false;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EPROTO'].includes(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
}

function stepMessage(what: string, host: string, error: unknown): string {
  if (unreachable(error)) return `the Docker host ${host} cannot be reached (${dockerMessage(error)}): is the daemon running there, and are the host and its TLS settings right?`;
  return `could not ${what} on the Docker host ${host}: ${dockerMessage(error)}`;
}
