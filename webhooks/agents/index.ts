// Agents' connections: the WebSocket `eventops agent` dials, and who may use it.
export { agentSockets, type AgentSockets, type AgentSocketDeps } from './agent-socket.js';
export { agentAuthenticator, type AgentAuthDeps } from './authenticate-agent.js';
