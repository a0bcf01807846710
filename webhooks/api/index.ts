// The `/api/v1` routes of the HTTP server and the JSON shapes they answer with.
export { sourcesRoutes, type SourcesRoutesDeps } from './sources-routes.js';
export { definitionsRoutes, DEFINITION_KINDS, DEFAULT_LIMIT, MAX_LIMIT } from './definitions-routes.js';
export { ApiError, badRequest, notFound } from './api-error.js';
export { tokensRoutes } from './tokens-routes.js';
export type * from './api-types.js';
export { runsRoutes, DEFAULT_RUN_LIMIT, MAX_RUN_LIMIT, type RunsEngine, type RunsRoutesDeps } from './runs-routes.js';
export { RUN_STATUSES, FINISHED_RUN_STATUSES, FINISHED_TASK_STATUSES } from './run-types.js';
export type * from './run-types.js';
export { agentsRoutes } from './agents-routes.js';
export { countsRoutes, readCounts, EVENT_STATUSES, type CountsAnswer } from './counts-routes.js';
