// The server's side of `eventops agent`: the agents connected to this process, and one runner
// per agent id that sends it attempts and turns its messages back into lines and a result.
// The hub knows nothing of WebSockets or tokens: the HTTP side authenticates a connection, then
// hands the hub a channel to send on and the messages it receives.
//
// A dropped connection does not fail the attempts the agent was running: the agent keeps them
// and their results, and says which it still holds when it is back. Attempts it no longer holds
// (it restarted) fail at once; if it is not back within `reconnectGraceMs`, they fail then.
// Attempts it holds that this process does not wait for (a killed server sent them) are checked
// against the run engine's ownership: once no live worker owns one, the agent is told to cancel
// it (at connect, before each new attempt sent to it, and from the orphan reaper), and the
// attempt's log says so, so a retry never runs beside it.
import type { AttemptKey, AttemptOwnership, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { createMasker } from './mask.js';
import { attemptId, type AgentMessage, type ServerMessage } from './agent-protocol.js';
import { durationText } from './duration-text.js';

export interface AgentChannel {
  send(message: ServerMessage): void;
  /** Ends the connection (the hub replaced it, or is closing). */
  close(reason: string): void;
}

export interface AgentHello {
  version: string;
  runs: readonly ('local' | 'docker')[];
  holding: readonly string[];
}

export interface AgentConnection {
  /** A message the agent sent on this connection. */
  message(message: AgentMessage): void;
  /** The connection ended. */
  closed(): void;
}

export interface AgentHubOptions {
  /** How long attempts wait for an agent that dropped its connection; default 30 s. */
  reconnectGraceMs?: number;
  /** Told about what the hub sees (connections, protocol problems); default: nothing. */
  log?(event: string, fields: Record<string, unknown>): void;
  /** Whether a live worker owns an attempt; without it, attempts an agent holds for nobody here are left alone. */
  ownership?: AttemptOwnership;
}

export interface AgentHub {
  /** An authenticated connection of agent `id`, after its hello. A second connection of the same id replaces the first. */
  connect(id: string, channel: AgentChannel, hello: AgentHello): AgentConnection;
  connected(id: string): boolean;
  /** The ids connected now. */
  agents(): string[];
  /** Called with an agent's id and hello each time it connects. */
  onConnect(listener: (id: string, hello: AgentHello) => void): void;
  /** Called with an agent's id when its connection ends (not when a newer one replaced it). */
  onDisconnect(listener: (id: string) => void): void;
  /** The runner that sends attempts to agent `id` (connected or not). */
  runner(id: string): Runner;
  close(): Promise<void>;
}

interface Pending {
  agent: string;
  execution: TaskExecution;
  io: RunnerIo;
  mask: (text: string) => string;
  resolve(result: TaskResult): void;
  graceTimer?: NodeJS.Timeout;
  cancelled: boolean;
}

interface Connection {
  channel: AgentChannel;
  hello: AgentHello;
}

export function createAgentHub(options: AgentHubOptions = {}): AgentHub {
  const graceMs = options.reconnectGraceMs ?? 30_000;
  const log = options.log ?? (() => undefined);
  const connections = new Map<string, Connection>();
  const pending = new Map<string, Pending>();
  const listeners: ((id: string, hello: AgentHello) => void)[] = [];
  const leaving: ((id: string) => void)[] = [];
  let closed = false;
  // Per agent: attempts it said it holds that this process does not wait for.
  const foreign = new Map<string, Set<string>>();

  /** Cancels the foreign attempts of agent `id` that nobody owns; returns what it stopped. */
  const reapAgent = async (id: string): Promise<string[]> => {
    const ownership = options.ownership;
    const keys = foreign.get(id);
    if (!ownership || !keys) return [];
    const stopped: string[] = [];
    for (const key of [...keys]) {
      const attempt = parseAttemptId(key);
      if (!attempt) {
        keys.delete(key);
        continue;
      }
      if (await ownership.owned(attempt)) continue;
      if (!keys.delete(key)) continue;
      if (!send(id, { type: 'cancel', attempt: key })) continue;
      const what = `task on agent ${id}`;
      await ownership.stopped(attempt, what);
      stopped.push(`attempt ${attempt.attempt} of task ${attempt.task} (run ${attempt.runId}): ${what}`);
    }
    return stopped;
  };

  const finish = (key: string, result: TaskResult) => {
    const attempt = pending.get(key);
    if (!attempt) return;
    pending.delete(key);
    clearTimeout(attempt.graceTimer);
    attempt.resolve({ ...result, ...(result.error === undefined ? {} : { error: attempt.mask(result.error) }) });
  };
  const send = (agent: string, message: ServerMessage): boolean => {
    const connection = connections.get(agent);
    if (!connection) return false;
    try {
      connection.channel.send(message);
      return true;
    } catch (error) {
      log('send failed', { agent, error: error instanceof Error ? error.message : String(error) });
      return false;
    }
  };
  const lost = (key: string, why: string): TaskResult => {
    const attempt = pending.get(key);
    return { status: attempt?.cancelled ? 'cancelled' : 'failed', exitCode: null, outputs: {}, error: attempt?.cancelled ? 'cancelled' : why };
  };

  return {
    connect(id, channel, hello) {
      if (closed) {
        channel.close('the server is shutting down');
        return { message: () => undefined, closed: () => undefined };
      }
      const previous = connections.get(id);
      const connection: Connection = { channel, hello };
      connections.set(id, connection);
      if (previous) previous.channel.close('replaced by a newer connection of the same agent');
      log('agent connected', { agent: id, version: hello.version, runs: hello.runs, holding: hello.holding.length });
      channel.send({ type: 'welcome', agent: id });
      const holding = new Set(hello.holding);
      foreign.set(id, new Set(hello.holding.filter((key) => pending.get(key)?.agent !== id)));
      reapAgent(id).catch((error: unknown) => log('could not look for orphaned attempts', { agent: id, error: error instanceof Error ? error.message : String(error) }));
      for (const [key, attempt] of pending) {
        if (attempt.agent !== id) continue;
        clearTimeout(attempt.graceTimer);
        attempt.graceTimer = undefined;
        if (!holding.has(key)) {
          finish(key, lost(key, `agent ${id} came back without this attempt (it restarted while the task ran); its result is lost`));
        } else if (attempt.cancelled) {
          channel.send({ type: 'cancel', attempt: key });
        }
      }
      for (const listener of listeners) listener(id, hello);
      return {
        message(message) {
          if (connections.get(id) !== connection) return;
          if (message.type === 'hello') return;
          const attempt = pending.get(message.attempt);
          if (!attempt || attempt.agent !== id) {
            // An attempt this process no longer waits for (its result was taken already): let the agent forget it.
            if (message.type === 'result') {
              foreign.get(id)?.delete(message.attempt);
              channel.send({ type: 'ack', attempt: message.attempt });
            }
            return;
          }
          switch (message.type) {
            case 'line':
              attempt.io.onLine({ at: message.line.at, stream: message.line.stream, text: attempt.mask(message.line.text) });
              break;
            case 'result':
              finish(message.attempt, message.result);
              channel.send({ type: 'ack', attempt: message.attempt });
              break;
            case 'rejected':
              finish(message.attempt, { status: 'failed', exitCode: null, outputs: {}, error: `agent ${id} cannot run it: ${message.error}` });
              break;
          }
        },
        closed() {
          if (connections.get(id) !== connection) return;
          connections.delete(id);
          log('agent disconnected', { agent: id });
          for (const listener of leaving) listener(id);
          for (const [key, attempt] of pending) {
            if (attempt.agent !== id || attempt.graceTimer) continue;
            attempt.graceTimer = setTimeout(() => finish(key, lost(key, `lost the connection to agent ${id}, and it was not back within ${durationText(graceMs)}`)), graceMs);
          }
        },
      };
    },
    connected: (id) => connections.has(id),
    agents: () => [...connections.keys()],
    onConnect(listener) {
      listeners.push(listener);
    },
    onDisconnect(listener) {
      leaving.push(listener);
    },
    runner(id) {
      return {
        type: 'agent',
        reap: () => reapAgent(id),
        async run(execution, io) {
          // Before the task is sent, so a retry never runs beside its orphan on the agent.
          await reapAgent(id).then(
            (stopped) => stopped.forEach((line) => io.onLine({ at: Date.now(), stream: 'system', text: `stopped an orphaned ${line} left by a previous server` })),
            (error: unknown) => io.onLine({ at: Date.now(), stream: 'system', text: `could not look for orphaned attempts on agent ${id}: ${error instanceof Error ? error.message : String(error)}` }),
          );
          return runOnAgent(execution, io);
        },
        async close() {
          // The hub owns the connections; an agent's runner holds nothing of its own.
        },
      };
      function runOnAgent(execution: TaskExecution, io: RunnerIo): Promise<TaskResult> {
        const key = attemptId(execution);
        if (closed) return Promise.reject(new Error('the agent hub is closed'));
        if (io.signal.aborted) return Promise.resolve({ status: 'cancelled', exitCode: null, outputs: {}, error: 'cancelled' });
        if (pending.has(key)) return Promise.reject(new Error(`attempt ${key} is running already`));
        const connection = connections.get(id);
        if (!connection) return Promise.resolve({ status: 'failed', exitCode: null, outputs: {}, error: `agent ${id} is not connected to this server` });
        if (execution.image !== undefined && !connection.hello.runs.includes('docker')) {
          return Promise.resolve({ status: 'failed', exitCode: null, outputs: {}, error: `agent ${id} cannot run tasks with an image: start it with Docker available (--docker-host)` });
        }
        return new Promise<TaskResult>((resolve) => {
          const attempt: Pending = { agent: id, execution, io, mask: createMasker(execution.secrets), resolve, cancelled: false };
          pending.set(key, attempt);
          io.signal.addEventListener(
            'abort',
            () => {
              attempt.cancelled = true;
              // Not connected now: the cancel goes out when the agent is back (see connect).
              send(id, { type: 'cancel', attempt: key });
            },
            { once: true },
          );
          if (!send(id, { type: 'run', attempt: key, execution })) finish(key, { status: 'failed', exitCode: null, outputs: {}, error: `could not send the task to agent ${id}` });
        });
      }
    },
    async close() {
      closed = true;
      for (const key of [...pending.keys()]) finish(key, lost(key, 'the server shut down while the agent ran the task'));
      for (const connection of connections.values()) connection.channel.close('the server is shutting down');
      connections.clear();
    },
  };
}

/** `run/task/attempt` (agent-protocol.ts attemptId) back into its parts; undefined when it is not one. */
function parseAttemptId(key: string): AttemptKey | undefined {
  const m = /^([^/]+)\/(.+)\/(\d+)$/.exec(key);
  return m ? { runId: m[1]!, task: m[2]!, attempt: Number(m[3]) } : undefined;
}
