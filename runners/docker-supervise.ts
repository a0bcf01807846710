// One container's life from its start to its exit, the same whatever it runs (the wrapper on
// stdin, or the image as built): attached before the start so no output is lost, stdout and
// stderr demultiplexed into separate lines, a timeout or a cancel that sends the stop signal and
// then SIGKILL after the grace period, and the exit code once it ended. Removing the container
// is the caller's, so it happens after every ending. Each API call has a deadline; the wait for
// the exit has none while the task runs, but once it is being stopped, a daemon that does not
// confirm the end within the kill grace plus one API deadline is no longer waited for.
import { Writable, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { LogStream } from './runner.js';
import type { LineSplitter } from './line-splitter.js';
import { dockerMessage, dockerStep, statusOf, withDeadline } from './docker-connection.js';
import { durationText } from './duration-text.js';
import { sizeText } from './read-outputs.js';

export type Emit = (stream: LogStream, text: string) => void;
export type Stop = { kind: 'timed_out'; afterMs: number } | { kind: 'cancelled' };
/** How the container's run ended: never started (cancelled first), stopped by eventops, or exited by itself. */
export type ContainerEnding = { kind: 'not_started' } | { kind: 'stopped'; why: Stop; /** The daemon never confirmed the end. */ unconfirmed?: boolean } | { kind: 'exited'; code: number };

export interface SuperviseOptions {
  docker: Docker;
  /** The host as shown in messages. */
  host: string;
  emit: Emit;
  /** Turns one output stream into masked lines (AttemptReport.lines: long lines cut around secrets). */
  lines(stream: 'stdout' | 'stderr'): LineSplitter;
  signal: AbortSignal;
  timeoutMs?: number;
  killGraceMs: number;
  /** Deadline of each Docker API call (limits.docker.apiTimeoutMs). */
  apiTimeoutMs: number;
  /** Written to the container's stdin once it started, then stdin is closed; without it stdin is not attached. */
  stdin?: string;
  /** The signal that asks it to stop (the image's STOPSIGNAL, else SIGTERM), and whom it reaches, for the log line. */
  stopSignal: string;
  stopsWhat: string;
  /** The system line saying it started. */
  started: string;
}

/** How long output may still come once the container exited. */
const DRAIN_MS = 2_000;
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Starts `container` and follows it to its end. A Docker call that fails rejects with a DockerStepError. */
export async function superviseContainer(container: Docker.Container, options: SuperviseOptions): Promise<ContainerEnding> {
  const { emit, signal: abort, host, apiTimeoutMs } = options;
  const withStdin = options.stdin !== undefined;
  // A call cut short by a cancel is not a failure of the daemon: the attempt was not started.
  const step = async <T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T | 'cancelled'> => {
    try {
      return await dockerStep(host, what, () => withDeadline(host, what, apiTimeoutMs, call, abort));
    } catch (error) {
      if (abort.aborted) return 'cancelled';
      throw error;
    }
  };
  // Attached before the start, so no output is lost (and stdin, when there is one, is ours).
  const attached = await step('attach to the container', (signal) => container.attach({ stream: true, stdin: withStdin, stdout: true, stderr: true, hijack: true, abortSignal: signal }));
  if (attached === 'cancelled') return { kind: 'not_started' };
  const stream = attached as NodeJS.ReadWriteStream & Readable;
  try {
    const output = readOutput(options.docker, stream, emit, options.lines);
    if (abort.aborted) return { kind: 'not_started' };
    if ((await step('start the container', (signal) => container.start({ abortSignal: signal }))) === 'cancelled') return { kind: 'not_started' };
    emit('system', options.started);
    if (options.stdin !== undefined) {
      stream.write(options.stdin);
      stream.end();
    }

    let stopping: Stop | undefined;
    let exited = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let giveUpTimer: NodeJS.Timeout | undefined;
    const waitAbort = new AbortController();
    let giveUp!: () => void;
    const gaveUp = new Promise<'gave-up'>((resolve) => (giveUp = () => resolve('gave-up')));
    const send = async (name: string) => {
      try {
        await withDeadline(host, `send ${name} to the container`, apiTimeoutMs, (signal) => container.kill({ signal: name, abortSignal: signal }));
      } catch (error) {
        // 409: it is no longer running, which is what was wanted.
        if (!exited && statusOf(error) !== 409 && statusOf(error) !== 404) emit('system', `could not send ${name} to the container: ${dockerMessage(error)}`);
      }
    };
    const stop = (why: Stop) => {
      if (stopping || exited) return;
      stopping = why;
      emit('system', `${why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)}` : 'cancelled'}: stopping the task (${options.stopSignal} to ${options.stopsWhat})`);
      void send(options.stopSignal);
      graceTimer = setTimeout(() => {
        if (exited) return;
        emit('system', `still running ${durationText(options.killGraceMs)} after ${options.stopSignal}: SIGKILL`);
        void send('SIGKILL');
      }, Math.min(options.killGraceMs, MAX_TIMER_MS));
      // A daemon that died or went silent never says the container ended: the attempt ends without it.
      const boundMs = options.killGraceMs + apiTimeoutMs;
      giveUpTimer = setTimeout(() => {
        if (exited) return;
        emit('system', `the Docker host ${host} did not confirm the end of the container within ${durationText(boundMs)} of the stop; no longer waiting for it`);
        waitAbort.abort();
        giveUp();
      }, Math.min(boundMs, MAX_TIMER_MS));
    };
    const onAbort = () => stop({ kind: 'cancelled' });
    abort.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = options.timeoutMs;
    const timeout = timeoutMs === undefined ? undefined : setTimeout(() => stop({ kind: 'timed_out', afterMs: timeoutMs }), Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS));
    // Aborted between the check above and the listener: stop it now.
    if (abort.aborted) onAbort();

    let status: { StatusCode?: unknown } | 'gave-up';
    try {
      // The task's own stream: no deadline while it runs (the task's timeout and cancel bound it).
      const waited = dockerStep(host, 'wait for the container to end', () => container.wait({ abortSignal: waitAbort.signal }) as Promise<{ StatusCode?: unknown }>);
      // Settled after a give-up too: an abort's rejection is not left unhandled.
      waited.catch(() => undefined);
      status = await Promise.race([waited, gaveUp]);
    } finally {
      exited = true;
      clearTimeout(timeout);
      clearTimeout(graceTimer);
      clearTimeout(giveUpTimer);
      abort.removeEventListener('abort', onAbort);
    }
    if (status === 'gave-up') return { kind: 'stopped', why: stopping!, unconfirmed: true };
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([output.then(() => true), new Promise<boolean>((resolve) => (drainTimer = setTimeout(() => resolve(false), DRAIN_MS)))]);
    clearTimeout(drainTimer);
    if (!drained) emit('system', `output still open ${durationText(DRAIN_MS)} after the container ended; no longer reading it`);

    const stopped = stopping as Stop | undefined;
    if (stopped) return { kind: 'stopped', why: stopped };
    return { kind: 'exited', code: typeof status.StatusCode === 'number' ? status.StatusCode : -1 };
  } finally {
    stream.destroy();
  }
}

/** ` (killed for using more than its memory limit …)` when the container was killed for that, else ''. */
export async function outOfMemory(container: Docker.Container, host: string, apiTimeoutMs: number): Promise<string> {
  try {
    const info = await withDeadline(host, 'inspect the container', apiTimeoutMs, (signal) => container.inspect({ abortSignal: signal }));
    const limit = info.HostConfig.Memory;
    return info.State.OOMKilled ? ` (killed for using more than its memory limit${limit ? ` of ${sizeText(limit)}` : ''})` : '';
  } catch {
    // Only a hint: the exit code says the rest.
    return '';
  }
}

/** Lines of the attach stream, demultiplexed; resolves when the stream is closed. */
function readOutput(docker: Docker, stream: NodeJS.ReadWriteStream & Readable, emit: Emit, lines: SuperviseOptions['lines']): Promise<void> {
  const sink = (name: 'stdout' | 'stderr') => {
    const splitter = lines(name);
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
