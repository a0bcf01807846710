// The `ssh` runner: runs a task on another host over SSH, as the user it logs in as. Each attempt
// feeds the shared wrapper (remote-script.ts) to `sh -s`, which runs the task in a session of its
// own under `${TMPDIR:-/tmp}`; its lines stream back masked, its results (exit code, outputs) are
// read from a file afterwards, and its folder is removed. Timeout and cancel signal the task's
// whole process tree from a second session: SIGTERM, then SIGKILL after the grace period.
// The server's host key must be pinned: a different key is refused, never accepted. One
// connection per runner (= per actuator) is opened lazily and reused; more are opened when it
// carries `sessionsPerConnection` sessions, and a dropped one is replaced on the next use.
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import type { LogStream, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { createLineSplitter } from './line-splitter.js';
import { executionProblem, parseResults, remoteScript, type RemoteScript } from './remote-script.js';
import { collectOutputs, OUTPUT_FILE_FACTOR } from './read-outputs.js';
import { durationText } from './duration-text.js';
import { shellQuote } from './task-script.js';

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
   * Most sessions at once on the one connection before another connection is opened; default 8
   * (OpenSSH's MaxSessions is 10). An attempt holds one, and briefly a second one to stop the task
   * or read its results.
   */
  sessionsPerConnection?: number;
  /** How long the TCP connect and SSH handshake may take; default 10000. */
  connectTimeoutMs?: number;
}

/** How often an idle connection is checked, and how many checks may go unanswered before it counts as lost. */
const KEEPALIVE_MS = 15_000;
const KEEPALIVE_COUNT = 3;
/** Once the task's shell exited, how long output may stay quiet (and at most how long it may go on) before the session is closed. */
const DRAIN_QUIET_MS = 1_000;
const DRAIN_MAX_MS = 10_000;
/** Retries of a signal that found no process yet (the wrapper had not written the task's pid). */
const SIGNAL_RETRY_MS = 200;
const KILL_TRIES = 25;
/** setTimeout fires at once beyond this (about 24.8 days); longer delays wait this long. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Host key types ssh2 can verify, and the algorithms that use each. */
const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * A runner of `ssh` tasks on one host. Throws when the options can never work (no credentials,
 * an unreadable private key or host key). Connects on the first attempt, not here.
 */
export function createSshRunner(options: SshRunnerOptions): Runner {
  const port = options.port ?? 22;
  const where = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  const hidden = createMasker([options.privateKey, options.passphrase, options.password].flatMap((s) => (s === undefined ? [] : [s])));
  if (options.privateKey === undefined && options.password === undefined) throw new Error(`ssh actuator ${options.user}@${where}: give a privateKey or a password`);
  if (options.privateKey !== undefined) {
    const parsed = ssh2.utils.parseKey(options.privateKey, options.passphrase);
    if (parsed instanceof Error) throw new Error(`ssh actuator ${options.user}@${where}: the private key cannot be used: ${hidden(parsed.message)}`);
    if (!parsed.isPrivateKey()) throw new Error(`ssh actuator ${options.user}@${where}: the private key cannot be used: it is a public key`);
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
  return {
    type: 'ssh',
    async run(execution, io) {
      if (closing) throw new Error(`the ssh runner for ${where} is closed`);
      return runAttempt(execution, io, pool, settings);
    },
    close() {
      closing ??= pool.close();
      return closing;
    },
  };
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

    const ending = await watchExec(session, wrapper.text, emit);
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
          const read = await pool.command(`cat ${wrapper.resultsFile}; __eo_status=$?; rm -rf ${wrapper.folder}; exit "$__eo_status"`, limit);
          // Past the limit the session is closed, and the shell may not get to the removal.
          folderRemoved = !read.tooBig;
          if (read.tooBig) throw new Error(`they are larger than ${limit} bytes`);
          text = read.stdout.toString('utf8');
          // A session can end without its exit status (seen under load); whole results are still whole.
          const whole = read.code === null && /(^|\n)end\n?$/.test(text);
          if (read.code !== 0 && !whole) throw new Error(read.stderr.trim() || `cat exited with ${read.code}`);
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
function watchExec(session: Session, script: string, emit: (stream: LogStream, text: string) => void): Promise<ExecEnding> {
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
    const stdout = createLineSplitter((text) => emit('stdout', text));
    const stderr = createLineSplitter((text) => emit('stderr', text));
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

// ---- connections ----

interface Connection {
  client: SshClient;
  ready: Promise<void>;
  /** Sessions open or being opened on it. */
  sessions: number;
  /** Most sessions it takes: sessionsPerConnection, or fewer once the server refused one (its MaxSessions is lower). */
  limit: number;
  /** False once it closed or is being closed; it is then out of the pool. */
  open: boolean;
  /** Set when it closed without the runner ending it: why. */
  lostReason?: string;
}

interface Session {
  channel: ClientChannel;
  connection: Connection;
}

interface CommandResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** stdout went beyond the limit asked for; reading stopped there. */
  tooBig: boolean;
}

interface Pool {
  /** A session running `command`, on a connection with room for it (opened when needed). */
  open(command: string): Promise<Session>;
  /** Runs `command` in a session of its own; stdout is read up to `maxBytes`. */
  command(command: string, maxBytes: number): Promise<CommandResult>;
  /** A command to run (best effort) on the next connection, or before the next attempt: the remains of a lost attempt. */
  leftBehind(command: string): void;
  close(): Promise<void>;
}

interface PoolOptions extends SshRunnerOptions {
  port: number;
  where: string;
  pinned: PinnedKey | undefined;
  connectTimeoutMs: number;
  sessionsPerConnection: number;
  hidden: (text: string) => string;
}

function createPool(options: PoolOptions): Pool {
  const connections: Connection[] = [];
  const leftovers = new Set<string>();
  const cleanups = new Set<Promise<void>>();
  let closed = false;

  const connectTo = (): Connection => {
    const client = new ssh2.Client();
    let offered: Buffer | undefined;
    let lastError: Error | undefined;
    let ready = false;
    const connection: Connection = { client, ready: Promise.resolve(), sessions: 0, limit: options.sessionsPerConnection, open: true };
    connections.push(connection);
    connection.ready = new Promise<void>((resolve, reject) => {
      client.on('ready', () => {
        ready = true;
        resolve();
        flushLeftovers();
      });
      client.on('error', (error: Error) => {
        lastError = error;
        if (!ready) reject(new Error(options.hidden(connectError(error, offered, options))));
      });
      client.on('close', () => {
        if (connection.open) connection.lostReason = lastError ? options.hidden(lastError.message) : 'the server closed it';
        connection.open = false;
        const index = connections.indexOf(connection);
        if (index !== -1) connections.splice(index, 1);
        if (!ready) reject(new Error(options.hidden(connectError(lastError ?? new Error('the server closed the connection during the handshake'), offered, options))));
      });
      if (options.password !== undefined) {
        const password = options.password;
        client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)));
      }
      const config: ConnectConfig = {
        host: options.host,
        port: options.port,
        username: options.user,
        readyTimeout: options.connectTimeoutMs,
        keepaliveInterval: KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_COUNT,
        hostVerifier: (key: Buffer) => {
          offered = key;
          return options.pinned !== undefined && key.equals(options.pinned.blob);
        },
        // Only the pinned key's type is asked for, so a host with several keys shows the pinned one.
        ...(options.pinned ? { algorithms: { serverHostKey: HOST_KEY_ALGORITHMS[options.pinned.type] ?? [] } } : {}),
        ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
        ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        ...(options.password === undefined ? {} : { password: options.password, tryKeyboard: true }),
      };
      try {
        client.connect(config);
      } catch (error) {
        connection.open = false;
        connections.splice(connections.indexOf(connection), 1);
        reject(new Error(options.hidden(`could not connect to ${options.where}: ${messageOf(error)}`)));
      }
    });
    // Callers await `ready`; this only keeps a failure nobody waits for from being reported as unhandled.
    connection.ready.catch(() => undefined);
    return connection;
  };

  const acquire = (): Connection => {
    const connection = connections.find((c) => c.open && c.sessions < c.limit) ?? connectTo();
    connection.sessions++;
    return connection;
  };

  // A connection with nothing on it goes when another one is up: the pool shrinks back to one.
  const release = (connection: Connection) => {
    connection.sessions--;
    if (connection.sessions === 0 && connection.open && connections.some((c) => c !== connection && c.open)) {
      connection.open = false;
      connections.splice(connections.indexOf(connection), 1);
      connection.client.end();
    }
  };

  const open = async (command: string, retries = 3): Promise<Session> => {
    if (closed) throw new Error(`the ssh runner for ${options.where} is closed`);
    const connection = acquire();
    try {
      await connection.ready;
    } catch (error) {
      connection.sessions--;
      throw error;
    }
    try {
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        try {
          connection.client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel)));
        } catch (error) {
          reject(error);
        }
      });
      channel.once('close', () => release(connection));
      return { channel, connection };
    } catch (error) {
      // The server refused the session (OpenSSH: more than MaxSessions): this connection takes no
      // more than it has now, and another one is used.
      const refused = connection.lostReason === undefined && /open failed/i.test(messageOf(error));
      if (refused) connection.limit = Math.max(1, connection.sessions - 1);
      release(connection);
      // The session did not open, so nothing ran: another connection may be tried.
      if (retries > 0 && (refused || connection.lostReason !== undefined) && !closed) return open(command, retries - 1);
      const why = connection.lostReason !== undefined ? ` (the connection was lost: ${connection.lostReason})` : refused ? ' (the server refused another session on the connection)' : '';
      throw new Error(options.hidden(`could not open an SSH session on ${options.where}: ${messageOf(error)}${why}`));
    }
  };

  const command = async (text: string, maxBytes: number): Promise<CommandResult> => {
    // Through `sh -c`: the user's login shell runs it, and that may not be a POSIX one (fish, csh).
    const { channel, connection } = await open(`sh -c ${shellQuote(text)}`);
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      let bytes = 0;
      let stderr = '';
      let code: number | null = null;
      let tooBig = false;
      channel.on('data', (chunk: Buffer) => {
        if (tooBig) return;
        bytes += chunk.length;
        if (bytes > maxBytes) {
          tooBig = true;
          channel.close();
        } else stdout.push(chunk);
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString('utf8');
      });
      channel.on('exit', (exitCode: number | null) => (code = exitCode));
      channel.once('close', () => {
        if (connection.lostReason !== undefined && code === null && !tooBig) reject(new Error(`the connection to ${options.where} was lost (${connection.lostReason})`));
        else resolve({ code, stdout: Buffer.concat(stdout), stderr: options.hidden(stderr), tooBig });
      });
      channel.end();
    });
  };

  const flushLeftovers = () => {
    if (closed) return;
    for (const text of [...leftovers]) {
      leftovers.delete(text);
      // Best effort: the attempt that left it already said so. Kept for later when no session opened.
      const cleanup = command(text, 4096).then(
        () => undefined,
        () => {
          if (!closed) leftovers.add(text);
        },
      );
      cleanups.add(cleanup);
      void cleanup.finally(() => cleanups.delete(cleanup));
    }
  };

  return {
    open(text) {
      if (leftovers.size > 0 && connections.some((c) => c.open)) flushLeftovers();
      return open(text);
    },
    command,
    leftBehind(text) {
      leftovers.add(text);
    },
    async close() {
      closed = true;
      await Promise.all([...cleanups]);
      const ending = connections.splice(0).map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.open = false;
            connection.client.once('close', () => resolve());
            connection.client.end();
            // A server that does not answer the goodbye: drop the socket.
            setTimeout(() => {
              connection.client.destroy();
              resolve();
            }, 2_000).unref();
          }),
      );
      await Promise.all(ending);
    },
  };
}

// ---- host keys ----

interface PinnedKey {
  type: string;
  blob: Buffer;
}

/** The type and key blob of a `type base64 [comment]` line (a leading known_hosts host field is allowed); throws saying what is wrong. */
function parseHostKey(line: string, where: string): PinnedKey {
  const fields = line.trim().split(/\s+/);
  const at = fields.findIndex((field) => Object.hasOwn(HOST_KEY_ALGORITHMS, field));
  const problem = (why: string) => new Error(`ssh actuator ${where}: the hostKey "${line.slice(0, 120)}" ${why}; give the server's public key as one line "ssh-ed25519 AAAA…" (from ssh-keyscan, or /etc/ssh/ssh_host_ed25519_key.pub on the host)`);
  if (at === -1 || at > 1 || fields[0]?.startsWith('@')) throw problem(`is not a public key of a supported type (${Object.keys(HOST_KEY_ALGORITHMS).join(', ')})`);
  const type = fields[at]!;
  const data = fields[at + 1] ?? '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw problem('has no base64 key data after its type');
  const blob = Buffer.from(data, 'base64');
  if (blobType(blob) !== type) throw problem(`holds key data that is not a ${type} key`);
  return { type, blob };
}

/** The key type written at the start of an SSH public key blob. */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:…` as `ssh-keygen -l` prints it. */
function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function describeKey(blob: Buffer): string {
  return `${blobType(blob) ?? 'an unknown key type'} ${fingerprint(blob)}`;
}

/** What went wrong while connecting, in words that say what to do. */
function connectError(error: Error, offered: Buffer | undefined, options: PoolOptions): string {
  const level = (error as Error & { level?: string }).level;
  const where = options.where;
  if (offered !== undefined && (options.pinned === undefined || !offered.equals(options.pinned.blob)) && /verification failed/i.test(error.message)) {
    if (options.pinned === undefined) {
      return `no host key is pinned for ${where}, so eventops did not log in. The server offered ${describeKey(offered)}; if that is the host's key (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${(blobType(offered) ?? '').replace(/^ssh-|-.*$/g, '')}_key.pub), pin it as the actuator's hostKey: "${blobType(offered)} ${offered.toString('base64')}"`;
    }
    return `the host key of ${where} does not match the pinned one: expected ${describeKey(options.pinned.blob)}, the server offered ${describeKey(offered)}. eventops did not log in. If the host's key was changed on purpose, pin the new one; otherwise the connection may be intercepted`;
  }
  if (level === 'client-authentication') {
    const given = [options.privateKey === undefined ? '' : 'private key', options.password === undefined ? '' : 'password'].filter(Boolean).join(' and ');
    return `could not log in to ${where} as ${options.user}: the server accepted none of the credentials given (${given}); check the user and that the key is in its authorized_keys`;
  }
  if (level === 'client-timeout') return `could not connect to ${where}: no SSH handshake within ${durationText(options.connectTimeoutMs)} (is the host reachable, and is it an SSH server?)`;
  return `could not connect to ${where}: ${error.message}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
