// The GitHub module: the one API client (App or token, rate limits), and what eventops writes to
// GitHub. Other folders import only from here.
export { createGithubClient, type GithubAuth, type GithubClient, type GithubClientOptions } from './github-client.js';
export { GithubRateLimitedError, rateLimitWait, SECONDARY_DEFAULT_WAIT_MS } from './rate-limit.js';
export { reportTarget, type ReportTarget } from './report-target.js';
export { checkOutput, checkState, annotationBatches, ANNOTATIONS_PER_REQUEST, CHECK_TEXT_LIMIT, type CheckOutput, type CheckState } from './check-output.js';
export { createRunReporter, ReportBusyError, type RunReporter, type RunReporterDeps } from './run-report.js';
export { createDefinitionsCheck, DefinitionsCheckBusyError, DEFINITIONS_CHECK_NAME, type DefinitionsCheck, type DefinitionsCheckDeps, type DefinitionsCheckRunOptions } from './definitions-check.js';
export { definitionsCheckTarget, type DefinitionsCheckTarget } from './definitions-check-target.js';
export { planDefinitions, diffPaths, triggerChangeWords, type DefinitionsPlan, type PlanDefinition, type FieldChange, type TriggerChange } from './definitions-plan.js';
export { createPermissionLookup, meetsPermission, PERMISSIONS, type Permission, type PermissionLookup } from './permissions.js';
export { createCommentCommands, type CommentCommands, type CommentCommandsDeps } from './comment-commands.js';
export { BUILTIN_COMMANDS } from './builtin-commands.js';
