// The runners module: the interface every actuator type implements, and the adapters built so
// far. The conformance suite (conformance.ts) is for tests and is imported from its own file.
export type { AttemptKey, AttemptOwnership, LogLine, LogStream, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
export { createLocalRunner, type LocalRunnerOptions } from './local-runner.js';
export { createMasker, MASK } from './mask.js';
export { createAgentHub, type AgentHub, type AgentHubOptions, type AgentChannel, type AgentConnection, type AgentHello } from './agent-hub.js';
export { AGENT_CONNECT_PATH, AGENT_ID_HEADER, AGENT_PROTOCOL_VERSION, attemptId, parseAgentMessage, parseServerMessage, type AgentMessage, type ServerMessage } from './agent-protocol.js';
