// The reconciler: sources (git, local folder), the reconcile loop as ordered steps, and the sync
// of whole revisions into Postgres.
export { createReconciler, type ReconcilerDeps, type ProcessReconciler } from './create-reconciler.js';
export { UnknownSourceError, type Reconciler, type ReconcileResult, type ReconcileOutcomeKind } from './reconciler.js';
export { SourceError, type ErrorKind } from './errors.js';
export type { SourceStats } from './reconcile-context.js';
export { sanitizeUrl, redact } from './sources/sanitize.js';
export { createRevisionChecker, type RevisionCheck, type RevisionChecker, type RevisionCheckerDeps } from './check-revision.js';
export type { DefinitionRecord } from './definition-rows.js';
