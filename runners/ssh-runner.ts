// The `ssh` runner: runs a task on another host over SSH, as the user it logs in as. Each attempt
// feeds the shared wrapper (remote-script.ts) to `sh -s`, which runs the task in a session of its
// own under `${TMPDIR:-/tmp}`; its lines stream back masked, its results (exit code, outputs) are
// read from a file afterwards (printed between random markers, so whatever the user's shell rc
// prints first is left out), and its folder is removed. Timeout and cancel signal the task's
// whole process tree from a second session: SIGTERM, then SIGKILL after the grace period.
// The server's host key must be pinned: a different key is refused, never accepted. One
// connection per runner (= per actuator) is opened lazily and reused; more are opened when it
// carries `sessionsPerConnection` sessions, and a dropped one is replaced on the next use.
import ssh2 from 'ssh2';
import type { AttemptOwnership, LogStream, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import type { LineSplitter } from './line-splitter.js';
import { createResultsSplitter, executionProblem, parseResults, remoteScript, type RemoteScript } from './remote-script.js';
import { collectOutputs, OUTPUT_FILE_FACTOR } from './read-outputs.js';
import { durationText } from './duration-text.js';
import { createPool, delay, messageOf, type Pool, type Session } from './ssh-pool.js';
import { parseHostKey } from './ssh-host-key.js';
import { shellQuote } from './task-script.js';
import { freshLooks } from './fresh-look.js';

export interface SshRunnerOptions {
  host: string;
  /** Default 22. */
  port?: number;
  user: string;
  /** Resolved secret values. At least one of privateKey or password. */
  privateKey?: string;
  passphrase?: string;
  password?: string;
  /**
   * The server's public key as a known_hosts-style line `ssh-ed25519 AAAA…` (an optional trailing
   * comment allowed). When absent, the runner never logs in: the attempt fails with the key the
   * server offered (its type and SHA256 fingerprint) so it can be pinned.
   */
  hostKey?: string;
  /** The largest value one output may have, in bytes; default 1 MiB. */
  maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL when a task is stopped; default 5000. */
  killGraceMs?: number;
  /**
   * Whether a live worker still owns an attempt. With it, task process groups of attempts nobody
   * owns (left by a killed server) are stopped by `reap()` and before each attempt runs.
   */
  ownership?: AttemptOwnership;
  /**
   * Most sessions at once on the one connection before another connection is opened; default 8
   * (OpenSSH's MaxSessions is 10). An attempt holds one, and briefly a second one to stop the task
   * or read its results.
   */
  sessionsPerConnection?: number;
  /** How long the TCP connect and SSH handshake may take; default 10000. */
  connectTimeoutMs?: number;
}

/** Once the task's shell exited, how long output may stay quiet (and at most how long it may go on) before the session is closed. */
const DRAIN_QUIET_MS = 1_000;
const DRAIN_MAX_MS = 10_000;
/** Retries of a signal that found no process yet (the wrapper had not written the task's pid). */
const SIGNAL_RETRY_MS = 200;
const KILL_TRIES = 25;
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A runner of `ssh` tasks on one host. Throws when the options can never work (no credentials,
 * an unreadable private key or host key). Connects on the first attempt, not here.
 */
export function createSshRunner(options: SshRunnerOptions): Runner {
  const port = options.port ?? 22;
  const where = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  const hidden = createMasker([options.privateKey, options.passphrase, options.password].flatMap((s) => (s === undefined ? [] : [s])));
  if (options.privateKey === undefined && options.password === undefined) throw new Error(`ssh actuator ${options.user}@${where}: give a privateKey or a password`);
  if (options.passphrase !== undefined && options.privateKey === undefined) throw new Error(`ssh actuator ${options.user}@${where}: a passphrase is given but no privateKey; the passphrase only decrypts a private key`);
  if (options.privateKey !== undefined) {
    const problem = privateKeyProblem(options.privateKey, options.passphrase);
    if (problem !== undefined) throw new Error(`ssh actuator ${options.user}@${where}: the private key cannot be used: ${hidden(problem)}`);
  }
  const pinned = options.hostKey === undefined ? undefined : parseHostKey(options.hostKey, where);
  const settings: Settings = {
    where,
    maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
    killGraceMs: options.killGraceMs ?? 5_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    hidden,
  };
  const pool = createPool({ ...options, port, where, pinned, connectTimeoutMs: settings.connectTimeoutMs, sessionsPerConnection: Math.max(1, options.sessionsPerConnection ?? 8), hidden });
  let closing: Promise<void> | undefined;
  // One look at a time, each started after its callers asked (fresh-look.ts).
  const look = freshLooks(() => (options.ownership ? stopOrphans(pool, options.ownership, settings) : Promise.resolve([])));
  const reap = (): Promise<string[]> => (!options.ownership || closing ? Promise.resolve([]) : look());
  return {
    type: 'ssh',
    reap,
    async run(execution, io) {
      if (closing) throw new Error(`the ssh runner for ${where} is closed`);
      if (options.ownership && !io.signal.aborted) {
        // Before the task runs, so a retry never runs beside the orphan of its earlier attempt.
        try {
          for (const line of await reap()) io.onLine({ at: Date.now(), stream: 'system', text: `stopped an orphaned ${line} left by a previous server` });
        } catch (error) {
          io.onLine({ at: Date.now(), stream: 'system', text: `could not look for orphaned tasks on ${where}: ${hidden(messageOf(error))}` });
        }
      }
      return runAttempt(execution, io, pool, settings);
    },
    close() {
      closing ??= pool.close();
      return closing;
    },
  };
}

/** Why the key cannot log in (never quoting the key or the passphrase); undefined when it can. */
function privateKeyProblem(privateKey: string, passphrase: string | undefined): string | undefined {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase);
  if (!(parsed instanceof Error)) return parsed.isPrivateKey() ? undefined : 'it is a public key';
  // ssh2's words: "…encrypted… but no passphrase given", and "…Bad passphrase?" or "integrity check failed -- bad passphrase?".
  if (passphrase === undefined && /no passphrase given/i.test(parsed.message)) return 'it is encrypted and no passphrase is given: set the ssh actuator\'s `passphrase: { secret: NAME }` to the secret holding it';
  if (passphrase !== undefined && /bad passphrase/i.test(parsed.message)) return 'the passphrase does not decrypt it: check that the secret named by the ssh actuator\'s `passphrase` holds this key\'s passphrase';
  return parsed.message;
}

interface Settings {
  where: string;
  maxOutputBytes: number;
  killGraceMs: number;
  connectTimeoutMs: number;
  /** Masks the runner's own credentials. */
  hidden: (text: string) => string;
}

type Stop = { kind: 'timed_out'; afterMs: number } | { kind: 'cancelled' };

/** How the wrapper's session ended: its exit status, or the connection went away under it. */
type ExecEnding = { kind: 'exited'; code: number } | { kind: 'killed'; signal: string } | { kind: 'no_status' } | { kind: 'lost'; reason: string };

async function runAttempt(execution: TaskExecution, io: RunnerIo, pool: Pool, settings: Settings): Promise<TaskResult> {
  // Task lines are masked with the task's secrets; the runner's own words (system lines, errors)
  // with its credentials too, should a message ever quote one.
  const taskMask = createMasker(execution.secrets);
  const mask = (text: string) => taskMask(settings.hidden(text));
  // A throwing onLine is kept: the attempt still runs to its end (the remote task must be stopped either way), then run() rejects.
  const report = attemptReport(execution, io, taskMask, mask);
  const { emit, ended } = report;

  if (io.signal.aborted) {
    emit('system', 'cancelled before it started');
    return ended('cancelled', null, 'cancelled');
  }
  const problem = executionProblem(execution);
  if (problem) return ended('failed', null, problem);
  const wrapper = remoteScript(execution, { maxOutputBytes: settings.maxOutputBytes, keepFolder: true });

  // Stopping: the first of timeout and cancel wins. Before the task runs it only ends the wait
  // for a session; once it runs, its whole tree is signalled from another session.
  let stopping: Stop | undefined;
  let shellEnded = false;
  // Set when the results were read and the folder removed in one session (each session costs a
  // round trip and a fork on the host).
  let folderRemoved = false;
  let onStop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (onStop = resolve));
  const stop = (why: Stop) => {
    if (stopping || shellEnded) return;
    stopping = why;
    onStop?.();
  };
  const onAbort = () => stop({ kind: 'cancelled' });
  io.signal.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = execution.timeoutMs;
  const timeout = timeoutMs === undefined ? undefined : setTimeout(() => stop({ kind: 'timed_out', afterMs: timeoutMs }), Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS));
  const stoppedResult = (why: Stop) => (why.kind === 'timed_out' ? ended('timed_out', null, `timed out after ${durationText(why.afterMs)}`) : ended('cancelled', null, 'cancelled'));

  let result: TaskResult;
  try {
    const opening = pool.open('sh -s');
    const first = await Promise.race([opening.then((session) => ({ session }), (error: unknown) => ({ error })), stopped.then(() => ({ stop: true as const }))]);
    if ('stop' in first || stopping) {
      // Nothing was written to the shell, so nothing runs: close the session once it is open.
      void opening.then(
        (session) => session.channel.close(),
        () => undefined,
      );
      const why = stopping ?? { kind: 'cancelled' };
      emit('system', why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)} before the task started on ${settings.where}; nothing ran` : 'cancelled before it started');
      result = stoppedResult(why);
    } else if ('error' in first) {
      result = ended('failed', null, messageOf(first.error));
    } else {
      result = await supervise(first.session);
    }
  } finally {
    clearTimeout(timeout);
    io.signal.removeEventListener('abort', onAbort);
  }
  return report.settle(result);

  async function supervise(session: Session): Promise<TaskResult> {
    const signals = new Set<Promise<void>>();
    let graceTimer: NodeJS.Timeout | undefined;
    let graceOver = false;
    let signalReported = false;
    const send = async (signal: 'TERM' | 'KILL', until: () => boolean) => {
      for (let tries = 0; !shellEnded && !until(); tries++) {
        try {
          const sent = await pool.command(wrapper.signalCommand(signal), 4096);
          if (sent.code === 0) return;
        } catch (error) {
          if (!signalReported) emit('system', `could not send SIG${signal} to the task's processes: ${messageOf(error)}`);
          signalReported = true;
        }
        if (signal === 'KILL' && tries + 1 >= KILL_TRIES) return;
        await delay(SIGNAL_RETRY_MS);
      }
    };
    const track = (promise: Promise<void>) => {
      signals.add(promise);
      void promise.finally(() => signals.delete(promise));
    };
    const startStopping = () => {
      const why = stopping;
      if (!why || shellEnded) return;
      emit('system', `${why.kind === 'timed_out' ? `timed out after ${durationText(why.afterMs)}` : 'cancelled'}: stopping the task (SIGTERM to its processes)`);
      track(send('TERM', () => graceOver));
      graceTimer = setTimeout(
        () => {
          graceOver = true;
          if (shellEnded) return;
          emit('system', `still running ${durationText(settings.killGraceMs)} after SIGTERM: SIGKILL`);
          track(send('KILL', () => false));
        },
        Math.min(settings.killGraceMs, MAX_TIMER_MS),
      );
    };
    void stopped.then(startStopping);

    const ending = await watchExec(session, wrapper.text, emit, report.lines);
    shellEnded = true;
    clearTimeout(graceTimer);
    await Promise.all([...signals]);

    if (ending.kind === 'lost') return lost(ending.reason);
    let result: TaskResult;
    if (stopping) result = stoppedResult(stopping);
    else result = await resultOf(ending);
    if (folderRemoved) return result;
    const removed = await pool.command(`rm -rf ${wrapper.folder}`, 4096).then(
      (r) => (r.code === 0 ? undefined : r.stderr.trim() || `rm exited with ${r.code}`),
      (error: unknown) => {
        pool.leftBehind(cleanupCommand(wrapper));
        return messageOf(error);
      },
    );
    if (removed !== undefined) emit('system', `could not remove the task's folder on ${settings.where}: ${removed}`);
    return result;
  }

  async function resultOf(ending: Exclude<ExecEnding, { kind: 'lost' }>): Promise<TaskResult> {
    switch (ending.kind) {
      case 'exited': {
        if (ending.code !== 0) return ended('failed', ending.code, `exit code ${ending.code}`);
        const limit = (OUTPUT_FILE_FACTOR + execution.outputs.length) * settings.maxOutputBytes * 2 + 64 * 1024;
        let text: string;
        try {
          // Between markers: sshd runs the command through the user's login shell, whose rc files
          // may print to stdout first (a banner in ~/.bashrc); only what lies between them is read.
          const { start, end } = wrapper.markers;
          const read = await pool.command(`printf '\\n%s\\n' ${shellQuote(start)}; cat ${wrapper.resultsFile}; __eo_status=$?; printf '%s\\n' ${shellQuote(end)}; rm -rf ${wrapper.folder}; exit "$__eo_status"`, limit);
          // Past the limit the session is closed, and the shell may not get to the removal.
          folderRemoved = !read.tooBig;
          if (read.tooBig) throw new Error(`they are larger than ${limit} bytes`);
          const between = resultsBetween(read.stdout.toString('utf8'), wrapper.markers);
          // A session can end without its exit status (seen under load); whole results are still whole.
          const whole = read.code === null && between !== undefined && /(^|\n)end\n$/.test(between);
          if (read.code !== 0 && !whole) throw new Error(read.stderr.trim() || `cat exited with ${read.code}`);
          if (between === undefined) throw new Error('they did not arrive whole between their markers (did the session end early?)');
          text = between;
        } catch (error) {
          return ended('failed', 0, `the task ended well, but its results (exit code and outputs) could not be read from ${settings.where}: ${messageOf(error)}`);
        }
        let parsed;
        try {
          parsed = parseResults(text);
        } catch (error) {
          return ended('failed', 0, `the task ended well, but ${messageOf(error)} (read from ${settings.where})`);
        }
        if (parsed.exitCode !== 0) return ended('failed', parsed.exitCode, `exit code ${parsed.exitCode}`);
        const read = await collectOutputs(execution.outputs, parsed.source, settings.maxOutputBytes);
        return read.ok ? ended('succeeded', 0, undefined, read.outputs) : ended('failed', 0, read.error);
      }
      case 'killed':
        return ended('failed', null, `killed by ${ending.signal}`);
      case 'no_status':
        return ended('failed', null, `the SSH session on ${settings.where} ended without an exit status`);
      default:
        return assertNever(ending);
    }
  }

  /** The connection dropped under the task: try once to stop what is left of it, and say how that went. */
  async function lost(reason: string): Promise<TaskResult> {
    const what = `the connection to ${settings.where} was lost while the task ran (${reason})`;
    emit('system', `${what}; trying to reconnect and stop the task`);
    try {
      const cleaned = await pool.command(cleanupCommand(wrapper), 4096);
      if (cleaned.code !== 0) throw new Error(cleaned.stderr.trim() || `exit code ${cleaned.code}`);
      return ended('failed', null, `${what}; eventops reconnected and stopped whatever was left of it (SIGKILL) and removed its folder`);
    } catch (error) {
      pool.leftBehind(cleanupCommand(wrapper));
      return ended('failed', null, `${what}; it may still be running there: reconnecting failed (${messageOf(error)}), so eventops will stop it (SIGKILL) and remove its folder when it next connects`);
    }
  }
}

/**
 * Writes the wrapper to the session's shell and relays its lines until the session closes. Once
 * the shell exited, output that stays open (a process that left its process group) is read for
 * at most DRAIN_QUIET_MS of quiet; then the session is closed.
 */
function watchExec(session: Session, script: string, emit: (stream: LogStream, text: string) => void, lines: (stream: 'stdout' | 'stderr') => LineSplitter): Promise<ExecEnding> {
  const { channel, connection } = session;
  return new Promise((resolve) => {
    let status: ExecEnding | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let drainLimit: NodeJS.Timeout | undefined;
    let giveUp: (() => void) | undefined;
    const quiet = () => {
      if (!giveUp) return;
      clearTimeout(drainTimer);
      drainTimer = setTimeout(giveUp, DRAIN_QUIET_MS);
    };
    const stdout = lines('stdout');
    const stderr = lines('stderr');
    channel.on('data', (chunk: Buffer) => {
      stdout.write(chunk);
      quiet();
    });
    channel.stderr.on('data', (chunk: Buffer) => {
      stderr.write(chunk);
      quiet();
    });
    const stderrEnded = new Promise<void>((done) => {
      channel.stderr.once('end', done);
      channel.stderr.once('close', done);
    });
    channel.on('exit', (code: number | null, signal?: string) => {
      status = code !== null ? { kind: 'exited', code } : { kind: 'killed', signal: signal ?? 'an unknown signal' };
      giveUp = () => {
        giveUp = undefined;
        emit('system', 'output still open after the task ended (a process that left its process group?); no longer reading it');
        channel.close();
      };
      quiet();
      drainLimit = setTimeout(() => giveUp?.(), DRAIN_MAX_MS);
    });
    channel.once('close', () => {
      giveUp = undefined;
      clearTimeout(drainTimer);
      clearTimeout(drainLimit);
      // stderr may still hold its last chunk when the session reports closed.
      void Promise.race([stderrEnded, delay(100)]).then(() => {
        stdout.end();
        stderr.end();
        if (status) resolve(status);
        else if (connection.lostReason !== undefined) resolve({ kind: 'lost', reason: connection.lostReason });
        else resolve({ kind: 'no_status' });
      });
    });
    channel.on('error', (error: unknown) => emit('system', `the SSH session reported an error: ${messageOf(error)}`));
    channel.end(script);
  });
}

/**
 * The text printed between the markers (results read by `cat`); what came before them (a login
 * shell's rc output) is dropped. Undefined when the end marker never came.
 */
function resultsBetween(output: string, markers: RemoteScript['markers']): string | undefined {
  const splitter = createResultsSplitter(markers, () => undefined);
  for (const line of output.split('\n')) splitter.line(line);
  return splitter.end();
}

/** Stops a task whose session was lost (unless its results show it ended), waits for the wrapper to write them, then removes its folder. */
function cleanupCommand(wrapper: RemoteScript): string {
  const results = wrapper.resultsFile;
  return [
    `if [ ! -e ${results} ]; then`,
    `  ${wrapper.signalCommand('KILL')}`,
    `  __eo_i=0; while [ ! -e ${results} ] && [ "$__eo_i" -lt 5 ]; do sleep 1; __eo_i=$((__eo_i + 1)); done`,
    'fi',
    `rm -rf ${wrapper.folder}`,
  ].join('\n');
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}

/**
 * Stops the task process groups of attempts that `ownership` says no live worker owns: each
 * attempt's folder (`${TMPDIR:-/tmp}/eventops-*`) names its attempt and its task's process group,
 * and a group still alive there for an attempt nobody owns is sent SIGTERM, then SIGKILL after the
 * grace, and its folder removed. Returns what it stopped, and says so in each attempt's log.
 */
async function stopOrphans(pool: Pool, ownership: AttemptOwnership, settings: Settings): Promise<string[]> {
  const list = await pool.command(
    `for f in "\${TMPDIR:-/tmp}"/eventops-*/private/attempt; do [ -f "$f" ] || continue; d=\${f%/private/attempt}; p=$(cat "$d/private/pid" 2>/dev/null) || continue; kill -0 "$p" 2>/dev/null || continue; printf '%s %s %s\\n' "$p" "$(cat "$f")" "$d"; done`,
    1024 * 1024,
  );
  if (list.code !== 0) throw new Error(list.stderr.trim() || `listing the task folders exited with ${list.code}`);
  const stopped: string[] = [];
  for (const line of list.stdout.toString('utf8').split('\n')) {
    const m = /^(\d+) (\d+) (\S+) (\S+) (\/.+)$/.exec(line);
    if (!m) continue;
    const [, pid, attemptText, runId, task, folder] = m as unknown as [string, string, string, string, string, string];
    // Written shell-quoted: a plain name is bare, anything else has quotes, which a run id or a task name never needs.
    const attempt = { runId: runId.replace(/^'|'$/g, ''), task: task.replace(/^'|'$/g, ''), attempt: Number(attemptText) };
    if (await ownership.owned(attempt)) continue;
    const grace = Math.max(1, Math.ceil(settings.killGraceMs / 1000));
    const signal = (n: number) => `kill -${n} -${pid} 2>/dev/null || kill -${n} ${pid} 2>/dev/null`;
    await pool.command(`${signal(15)}; i=0; while [ $i -lt ${grace * 10} ] && kill -0 ${pid} 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; ${signal(9)}; rm -rf ${shellQuote(folder)}`, 4096);
    const what = `process group ${pid} on ${settings.where}`;
    await ownership.stopped(attempt, what);
    stopped.push(`attempt ${attempt.attempt} of task ${attempt.task} (run ${attempt.runId}): ${what}`);
  }
  return stopped;
}
