// One container's life from its start to its exit, the same whatever it runs (the wrapper on
// stdin, or the image as built): attached before the start so no output is lost, stdout and
// stderr demultiplexed into separate lines, a timeout or a cancel that sends the stop signal and
// then SIGKILL after the grace period, and the exit code once it ended. Removing the container
// is the caller's, so it happens after every ending.
import { Writable, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { LogStream } from './runner.js';
import type { LineSplitter } from './line-splitter.js';
import { dockerMessage, dockerStep, statusOf } from './docker-connection.js';
import { durationText } from './duration-text.js';
import { sizeText } from './read-outputs.js';

export type Emit = (stream: LogStream, text: string) => void;
export type Stop = { kind: 'timed_out'; afterMs: number } | { kind: 'cancelled' };
/** How the container's run ended: never started (cancelled first), stopped by eventops, or exited by itself. */
export type ContainerEnding = { kind: 'not_started' } | { kind: 'stopped'; why: Stop } | { kind: 'exited'; code: number };

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
  const { emit, signal: abort } = options;
  const withStdin = options.stdin !== undefined;
  // Attached before the start, so no output is lost (and stdin, when there is one, is ours).
  const stream = (await dockerStep(options.host, 'attach to the container', () =>
    container.attach({ stream: true, stdin: withStdin, stdout: true, stderr: true, hijack: true }),
  )) as NodeJS.ReadWriteStream & Readable;
  try {
    const output = readOutput(options.docker, stream, emit, options.lines);
    if (abort.aborted) return { kind: 'not_started' };
    await dockerStep(options.host, 'start the container', () => container.start());
    emit('system', options.started);
    if (options.stdin !== undefined) {
      stream.write(options.stdin);
      stream.end();
    }

    let stopping: Stop | undefined;
    let exited = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const send = async (name: string) => {
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
      emit('system', `${why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)}` : 'cancelled'}: stopping the task (${options.stopSignal} to ${options.stopsWhat})`);
      void send(options.stopSignal);
      graceTimer = setTimeout(() => {
        if (exited) return;
        emit('system', `still running ${durationText(options.killGraceMs)} after ${options.stopSignal}: SIGKILL`);
        void send('SIGKILL');
      }, Math.min(options.killGraceMs, MAX_TIMER_MS));
    };
    const onAbort = () => stop({ kind: 'cancelled' });
    abort.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = options.timeoutMs;
    const timeout = timeoutMs === undefined ? undefined : setTimeout(() => stop({ kind: 'timed_out', afterMs: timeoutMs }), Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS));
    // Aborted between the check above and the listener: stop it now.
    if (abort.aborted) onAbort();

    let status: { StatusCode?: unknown };
    try {
      status = (await dockerStep(options.host, 'wait for the container to end', () => container.wait())) as { StatusCode?: unknown };
    } finally {
      exited = true;
      clearTimeout(timeout);
      clearTimeout(graceTimer);
      abort.removeEventListener('abort', onAbort);
    }
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
export async function outOfMemory(container: Docker.Container): Promise<string> {
  try {
    const info = await container.inspect();
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
