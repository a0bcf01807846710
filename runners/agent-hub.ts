// The server's side of `eventops agent`: the agents connected to this process, and one runner
// per agent id that sends it attempts and turns its messages back into lines and a result.
// The hub knows nothing of WebSockets or tokens: the HTTP side authenticates a connection, then
// hands the hub a channel to send on and the messages it receives.
//
// A dropped connection does not fail the attempts the agent was running: the agent keeps them
// and their results, and says which it still holds when it is back. Attempts it no longer holds
// (it restarted) fail at once; if it is not back within `reconnectGraceMs`, they fail then.
import type { Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
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
            if (message.type === 'result') channel.send({ type: 'ack', attempt: message.attempt });
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
        run(execution, io) {
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
        },
        async close() {
          // The hub owns the connections; an agent's runner holds nothing of its own.
        },
      };
    },
    async close() {
      closed = true;
      for (const key of [...pending.keys()]) finish(key, lost(key, 'the server shut down while the agent ran the task'));
      for (const connection of connections.values()) connection.channel.close('the server is shutting down');
      connections.clear();
    },
  };
}
