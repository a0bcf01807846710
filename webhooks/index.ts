// The HTTP side of eventops: the application (health, `/api/v1`) and serving it on a port.
// Webhook receivers (`/webhooks/github`, `/webhooks/generic/<name>`) will live here too.
export { createApp, type AppDeps } from './app.js';
export { createIntake, UnstorableError, type Intake, type IncomingEvent } from './intake/index.js';
export { startHttpServer, type HttpServer, type HttpServerOptions } from './serve-http.js';
export { probeRoutes, type ProbeDeps, type ReadinessAnswer, type ReadinessCheck } from './probes/index.js';
export { agentSockets, agentAuthenticator, type AgentSockets } from './agents/index.js';
export { DEFINITION_KINDS, RUN_STATUSES } from './api/index.js';
export { ensureAdminToken, setAdminToken, createToken, verifyToken, SCOPES, type Scope, type TokenInfo } from './auth/index.js';
export type {
  ActiveRevisionDetail,
  ActiveRevisionSummary,
  ConditionStatus,
  DefinitionItem,
  DefinitionPage,
  DiagnosticItem,
  ErrorBody,
  LastRevision,
  RevisionItem,
  SourceDetail,
  SourceSummary,
  CancelAnswer,
  CountsAnswer,
  ChildRunItem,
  DecisionAnswer,
  LogEnd,
  LogLineItem,
  LogPage,
  RunDetail,
  RunPage,
  RunsEngine,
  RunSummary,
  TaskItem,
} from './api/index.js';
