// Runs a task's script as the leader of its own process group and sees it to its very end: the
// lines it prints, a timeout or cancel (SIGTERM to the whole group, SIGKILL to what is left after
// the grace period), and, when the script ends by itself, SIGKILL to whatever it left running in
// the background, so no process outlives its task. A process that left the group (`setsid`) is
// out of reach; its open stdout cannot hold the attempt for more than DRAIN_MS either.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { LogStream } from './runner.js';
import type { LineSplitter } from './line-splitter.js';
import { groupAlive, signalGroup } from './process-group.js';
import { durationText } from './duration-text.js';

export interface ScriptLaunch {
  shell: string;
  script: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs?: number;
  killGraceMs: number;
  signal: AbortSignal;
  onLine(stream: LogStream, text: string): void;
  /** Turns one output stream into masked lines (AttemptReport.lines: long lines cut around secrets). */
  lines(stream: 'stdout' | 'stderr'): LineSplitter;
}

export type ScriptEnding =
  | { kind: 'exited'; code: number }
  | { kind: 'killed'; signal: string }
  | { kind: 'timed_out'; afterMs: number }
  | { kind: 'cancelled' }
  | { kind: 'not_started'; error: string };

type Stop = Extract<ScriptEnding, { kind: 'timed_out' | 'cancelled' }>;

/** How often the group is looked at while it uses its grace period. */
const POLL_MS = 25;
/** How long output may still come once every process of the group is gone. */
const DRAIN_MS = 1_000;
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolves once the script and its process group are gone and its output is read; never rejects. */
export async function superviseScript(launch: ScriptLaunch): Promise<ScriptEnding> {
  const { onLine } = launch;
  if (launch.signal.aborted) {
    onLine('system', 'cancelled before it started');
    return { kind: 'cancelled' };
  }
  let child: ChildProcess;
  try {
    child = spawn(launch.shell, ['-e', launch.script], { cwd: launch.cwd, env: launch.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return { kind: 'not_started', error: startError(launch.shell, error) };
  }
  const output = Promise.all([readLines(child.stdout, 'stdout', launch), readLines(child.stderr, 'stderr', launch)]);
  const leader = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: unknown }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (error) => {
      if (child.pid === undefined) resolve({ error });
      else onLine('system', `the script's process reported an error: ${messageOf(error)}`);
    });
  });
  const pgid = child.pid;

  let stopping: Stop | undefined;
  let leaderEnded = false;
  let killed = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const send = (signal: NodeJS.Signals) => {
    if (pgid === undefined) return;
    try {
      signalGroup(pgid, signal);
    } catch (error) {
      onLine('system', `could not send ${signal} to the task's processes: ${messageOf(error)}`);
    }
  };
  const stop = (why: Stop) => {
    if (stopping || leaderEnded || pgid === undefined) return;
    stopping = why;
    onLine('system', `${why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)}` : 'cancelled'}: stopping the task (SIGTERM to its processes)`);
    send('SIGTERM');
    graceTimer = setTimeout(() => {
      if (alive(pgid, onLine)) onLine('system', `still running ${durationText(launch.killGraceMs)} after SIGTERM: SIGKILL`);
      send('SIGKILL');
      killed = true;
    }, Math.min(launch.killGraceMs, MAX_TIMER_MS));
  };
  const onAbort = () => stop({ kind: 'cancelled' });
  launch.signal.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = launch.timeoutMs;
  const timeout = timeoutMs === undefined ? undefined : setTimeout(() => stop({ kind: 'timed_out', afterMs: timeoutMs }), Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS));

  const ended = await leader;
  leaderEnded = true;
  clearTimeout(timeout);
  launch.signal.removeEventListener('abort', onAbort);
  if (pgid !== undefined) {
    if (stopping) {
      // The leader may die at once while others use their grace period to clean up.
      while (!killed && alive(pgid, onLine)) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    } else if (alive(pgid, onLine)) {
      onLine('system', 'stopping the processes the script left running in the background (SIGKILL)');
    }
    send('SIGKILL');
  }
  clearTimeout(graceTimer);
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([output.then(() => true), new Promise<boolean>((resolve) => (drainTimer = setTimeout(() => resolve(false), DRAIN_MS)))]);
  clearTimeout(drainTimer);
  if (!drained) {
    onLine('system', 'output still open after the task ended (a process that left its process group?); no longer reading it');
    child.stdout?.destroy();
    child.stderr?.destroy();
    await output;
  }

  if ('error' in ended) return { kind: 'not_started', error: startError(launch.shell, ended.error) };
  if (stopping) return stopping;
  if (ended.code !== null) return { kind: 'exited', code: ended.code };
  return { kind: 'killed', signal: ended.signal ?? 'an unknown signal' };
}

/** Emits the stream's lines; resolves when it is closed (its last partial line flushed). */
function readLines(stream: Readable | null, name: 'stdout' | 'stderr', { onLine, lines }: Pick<ScriptLaunch, 'onLine' | 'lines'>): Promise<void> {
  if (!stream) return Promise.resolve();
  const splitter = lines(name);
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => splitter.write(chunk));
    stream.on('error', (error) => onLine('system', `reading ${name} failed: ${messageOf(error)}`));
    stream.once('close', () => {
      splitter.end();
      resolve();
    });
  });
}

/** Whether the group still runs; when that cannot be told, reported and taken as yes (the grace timer still ends it). */
function alive(pgid: number, onLine: ScriptLaunch['onLine']): boolean {
  try {
    return groupAlive(pgid);
  } catch (error) {
    onLine('system', `could not tell whether the task's processes still run: ${messageOf(error)}`);
    return true;
  }
}

function startError(shell: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return `could not start the task: the shell "${shell}" was not found (is it installed, and on the PATH?)`;
  if (code === 'EACCES') return `could not start the task: the shell "${shell}" is not executable`;
  return `could not start the task with the shell "${shell}": ${messageOf(error)}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
