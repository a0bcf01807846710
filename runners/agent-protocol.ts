// What an `eventops agent` and the server say to each other over the agent's WebSocket: JSON
// text messages, one per frame. The agent dials out (it may have no public address) and says
// hello; the server sends it attempts to run and cancels; the agent streams each attempt's lines
// and its result, which it keeps until the server acknowledges it (so a result survives a
// dropped connection). There is no other instruction: an agent runs the tasks it is sent, in its
// own shell or Docker, and nothing else (no tunnel, no proxy, no file access).
import type { LogLine, TaskExecution, TaskResult } from './runner.js';

/** The path agents connect to on the server. */
export const AGENT_CONNECT_PATH = '/api/v1/agents/connect';
/** The header carrying the agent's id (its token goes in `Authorization: Bearer …`). */
export const AGENT_ID_HEADER = 'x-eventops-agent';
export const AGENT_PROTOCOL_VERSION = 1;

export type AgentMessage =
  /** First message of every connection: what it can run, and the attempts it still holds (running, or ended with the result not yet acknowledged). */
  | { type: 'hello'; protocol: number; version: string; runs: ('local' | 'docker')[]; holding: string[] }
  | { type: 'line'; attempt: string; line: LogLine }
  | { type: 'result'; attempt: string; result: TaskResult }
  /** The attempt cannot run here at all (e.g. an image but no Docker on this host). */
  | { type: 'rejected'; attempt: string; error: string };

export type ServerMessage =
  | { type: 'welcome'; agent: string }
  | { type: 'run'; attempt: string; execution: TaskExecution }
  | { type: 'cancel'; attempt: string }
  /** The result is stored: the agent may forget the attempt. */
  | { type: 'ack'; attempt: string };

/** The id of one attempt: unique across runs, tasks and retries. */
export function attemptId(execution: Pick<TaskExecution, 'runId' | 'task' | 'attempt'>): string {
  return `${execution.runId}/${execution.task}/${execution.attempt}`;
}

/** A message from an agent, checked; throws with what is wrong. */
export function parseAgentMessage(text: string): AgentMessage {
  const message = parseObject(text);
  switch (message.type) {
    case 'hello':
      if (typeof message.protocol !== 'number' || typeof message.version !== 'string' || !isStringList(message.runs) || !isStringList(message.holding)) throw new Error('a hello needs protocol, version, runs and holding');
      return message as AgentMessage;
    case 'line': {
      const line = message.line as Record<string, unknown> | undefined;
      if (typeof message.attempt !== 'string' || !line || typeof line.text !== 'string' || typeof line.at !== 'number' || !['stdout', 'stderr', 'system'].includes(line.stream as string)) throw new Error('a line needs attempt and line {at, stream, text}');
      return message as AgentMessage;
    }
    case 'result': {
      const result = message.result as Record<string, unknown> | undefined;
      if (typeof message.attempt !== 'string' || !result || !['succeeded', 'failed', 'timed_out', 'cancelled'].includes(result.status as string)) throw new Error('a result needs attempt and result {status, exitCode, outputs}');
      if (!(result.exitCode === null || typeof result.exitCode === 'number') || typeof result.outputs !== 'object' || result.outputs === null || Object.values(result.outputs).some((v) => typeof v !== 'string')) throw new Error('a result needs exitCode (a number or null) and outputs (strings)');
      if (result.error !== undefined && typeof result.error !== 'string') throw new Error('a result error must be a string');
      return message as AgentMessage;
    }
    case 'rejected':
      if (typeof message.attempt !== 'string' || typeof message.error !== 'string') throw new Error('a rejection needs attempt and error');
      return message as AgentMessage;
    default:
      throw new Error(`unknown message type ${JSON.stringify(message.type)}`);
  }
}

/** A message from the server, checked; throws with what is wrong (the agent ignores such a message). */
export function parseServerMessage(text: string): ServerMessage {
  const message = parseObject(text);
  switch (message.type) {
    case 'welcome':
      if (typeof message.agent !== 'string') throw new Error('a welcome needs agent');
      return message as ServerMessage;
    case 'run': {
      const e = message.execution as Record<string, unknown> | undefined;
      if (typeof message.attempt !== 'string' || !e || typeof e.runId !== 'string' || typeof e.task !== 'string' || typeof e.attempt !== 'number' || !isStringList(e.commands) || !isStringList(e.secrets) || typeof e.env !== 'object' || e.env === null || !Array.isArray(e.outputs)) {
        throw new Error('a run needs attempt and execution {runId, task, attempt, commands, env, outputs, secrets}');
      }
      return message as ServerMessage;
    }
    case 'cancel':
    case 'ack':
      if (typeof message.attempt !== 'string') throw new Error(`a ${message.type} needs attempt`);
      return message as ServerMessage;
    default:
      throw new Error(`unknown message type ${JSON.stringify(message.type)}`);
  }
}

function parseObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  return value as Record<string, unknown>;
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
