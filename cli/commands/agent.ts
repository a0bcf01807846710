// `eventops agent --server URL --id ID --token SECRET`: runs tasks for a server on a host the
// server cannot reach (no public address). It dials out over a WebSocket, says which attempts it
// still holds, runs the attempts it is sent — in a local shell, or in Docker when the task names
// an image and a Docker host is available — streams their lines, and keeps each result until the
// server acknowledges it. It reconnects with backoff when the connection drops; its tasks go on
// meanwhile. It accepts no other instruction: nothing the server sends can make it open a
// connection, read a file or run anything but a task's commands.
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { AGENT_CONNECT_PATH, AGENT_ID_HEADER, AGENT_PROTOCOL_VERSION, attemptId, createLocalRunner, parseServerMessage, type AgentMessage, type Runner, type TaskExecution, type TaskResult } from '../../runners/index.js';
import type { Io } from '../output.js';
import { VERSION } from '../version.js';

export interface AgentOptions {
  server: string;
  id: string;
  token?: string;
  workDir?: string;
  dockerHost?: string;
}

/** Backoff between connection attempts: from 0.5 s doubling to 30 s, with jitter. */
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** Lines kept per attempt while disconnected; older ones are dropped (and counted). */
const MAX_BUFFERED_LINES = 10_000;

interface Held {
  execution: TaskExecution;
  abort: AbortController;
  result?: TaskResult;
  buffered: AgentMessage[];
  dropped: number;
}

export async function agentCommand(options: AgentOptions, io: Io, env: Record<string, string | undefined> = process.env): Promise<number> {
  const token = options.token ?? env.EVENTOPS_AGENT_TOKEN;
  if (!token) {
    io.err('error: give the agent\'s token with --token or EVENTOPS_AGENT_TOKEN (make one with `eventops tokens create --name <name> --scopes agent:<id>`)\n');
    return 2;
  }
  let url: URL;
  try {
    url = new URL(AGENT_CONNECT_PATH, options.server.replace(/^http/, 'ws'));
  } catch {
    io.err(`error: --server ${JSON.stringify(options.server)} is not a URL (e.g. https://eventops.example.com)\n`);
    return 2;
  }
  const say = (text: string) => io.err(`${new Date().toISOString()} agent ${options.id}: ${text}\n`);
  const local = createLocalRunner({ workRoot: options.workDir ?? join(homedir(), '.eventops-agent', 'work') });
  let docker: Runner | undefined;
  if (options.dockerHost) {
    const { createDockerRunner } = await import('../../runners/docker-runner.js');
    docker = createDockerRunner({ host: options.dockerHost, workerId: `agent:${options.id}@${hostname()}` });
  }
  const held = new Map<string, Held>();
  let socket: WebSocket | undefined;
  let welcomed = false;
  let stopping = false;
  let failures = 0;

  const deliver = (key: string, message: AgentMessage) => {
    const attempt = held.get(key);
    if (socket && welcomed && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return;
    }
    if (!attempt || message.type !== 'line') return; // results are resent from `held` on reconnect
    if (attempt.buffered.length >= MAX_BUFFERED_LINES) {
      attempt.buffered.shift();
      attempt.dropped++;
    }
    attempt.buffered.push(message);
  };

  const start = (key: string, execution: TaskExecution) => {
    if (held.has(key)) return; // sent again after a reconnect: it runs already
    const runner = execution.image !== undefined ? docker : local;
    if (!runner) {
      socket?.send(JSON.stringify({ type: 'rejected', attempt: key, error: 'the task names an image, and this agent has no Docker host (--docker-host)' } satisfies AgentMessage));
      return;
    }
    const attempt: Held = { execution, abort: new AbortController(), buffered: [], dropped: 0 };
    held.set(key, attempt);
    say(`running ${execution.task} (attempt ${execution.attempt}) of run ${execution.runId}`);
    runner
      .run(execution, { signal: attempt.abort.signal, onLine: (line) => deliver(key, { type: 'line', attempt: key, line }) })
      .catch((error: unknown): TaskResult => ({ status: 'failed', exitCode: null, outputs: {}, error: `the agent could not run the task: ${error instanceof Error ? error.message : String(error)}` }))
      .then((result) => {
        attempt.result = result;
        say(`${execution.task} of run ${execution.runId}: ${result.status}`);
        deliver(key, { type: 'result', attempt: key, result });
      });
  };

  const onMessage = (text: string) => {
    let message;
    try {
      message = parseServerMessage(text);
    } catch (error) {
      say(`ignored a message from the server: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    switch (message.type) {
      case 'welcome': {
        welcomed = true;
        failures = 0;
        say(`connected to ${url.origin}`);
        // What happened while away: buffered lines, then results not yet acknowledged.
        for (const [key, attempt] of held) {
          if (attempt.dropped > 0) socket?.send(JSON.stringify({ type: 'line', attempt: key, line: { at: Date.now(), stream: 'system', text: `agent: ${attempt.dropped} lines were dropped while disconnected` } } satisfies AgentMessage));
          for (const buffered of attempt.buffered.splice(0)) socket?.send(JSON.stringify(buffered));
          attempt.dropped = 0;
          if (attempt.result) socket?.send(JSON.stringify({ type: 'result', attempt: key, result: attempt.result } satisfies AgentMessage));
        }
        break;
      }
      case 'run':
        if (message.attempt !== attemptId(message.execution)) {
          say(`ignored a run whose attempt id ${JSON.stringify(message.attempt)} does not match its execution`);
          return;
        }
        start(message.attempt, message.execution);
        break;
      case 'cancel':
        held.get(message.attempt)?.abort.abort();
        break;
      case 'ack':
        if (held.get(message.attempt)?.result) held.delete(message.attempt);
        break;
    }
  };

  return new Promise<number>((resolve) => {
    let retryTimer: NodeJS.Timeout | undefined;
    const finish = (code: number) => {
      stopping = true;
      clearTimeout(retryTimer);
      for (const attempt of held.values()) attempt.abort.abort();
      socket?.close(1000, 'the agent is stopping');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void Promise.all([local.close(), docker?.close()]).then(() => resolve(code));
    };
    const onSignal = () => {
      say('stopping: cancelling the tasks it runs');
      finish(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    const connect = () => {
      if (stopping) return;
      welcomed = false;
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}`, [AGENT_ID_HEADER]: options.id }, handshakeTimeout: 10_000, maxPayload: 64 * 1024 * 1024 });
      socket = ws;
      let alive = Date.now();
      const watchdog = setInterval(() => {
        // The server pings every 15 s: silence for longer than 45 s is a dead connection.
        if (Date.now() - alive > 45_000) ws.terminate();
      }, 5_000);
      ws.on('ping', () => (alive = Date.now()));
      ws.on('open', () => {
        alive = Date.now();
        ws.send(JSON.stringify({ type: 'hello', protocol: AGENT_PROTOCOL_VERSION, version: VERSION, runs: docker ? ['local', 'docker'] : ['local'], holding: [...held.keys()] } satisfies AgentMessage));
      });
      ws.on('message', (data) => {
        alive = Date.now();
        onMessage(data.toString());
      });
      ws.on('unexpected-response', (_request, response) => {
        const status = response.statusCode ?? 0;
        if (status === 401 || status === 403) {
          say(`the server refused the agent (HTTP ${status}): check --id and the token (a token with the scope agent:${options.id}, or the value of the actuator's token secret)`);
          clearInterval(watchdog);
          finish(1);
          return;
        }
        say(`the server answered HTTP ${status} instead of accepting the connection`);
        ws.terminate();
      });
      ws.on('error', (error) => {
        if (!stopping) say(`connection problem: ${error.message}`);
      });
      ws.on('close', () => {
        clearInterval(watchdog);
        if (socket === ws) socket = undefined;
        if (stopping) return;
        failures++;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failures - 1, 10)) * (0.5 + Math.random() / 2);
        say(`disconnected; connecting again in ${(delay / 1000).toFixed(1)}s (${held.size} task${held.size === 1 ? '' : 's'} held)`);
        retryTimer = setTimeout(connect, delay);
      });
    };
    connect();
  });
}
