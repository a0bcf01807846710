// The JSON shapes the read-only API answers with, shared by the routes that build them and the
// CLI that prints them. Timestamps are ISO 8601 strings; nothing here ever holds a credential.
import type { Condition, ReconcileAttempt, StepTimings } from '../../schemas/database/index.js';

export type ConditionStatus = Condition['status'];

/** One source in `GET /api/v1/sources`. */
export interface SourceSummary {
  name: string;
  /** `git` or `local`. */
  type: string;
  /** The repository URL (stored without credentials) or the folder. */
  location: string;
  ref: string | null;
  dir: string;
  /** The status of the `Ready` condition; `Unknown` until the source was first reconciled. */
  ready: ConditionStatus;
  conditions: Condition[];
  activeRevision: ActiveRevisionSummary | null;
  lastAttemptAt: string | null;
}

export interface ActiveRevisionSummary {
  commit: string;
  /** When the revision was recorded; it became active in the same transaction. */
  appliedAt: string;
  definitionCount: number;
}

export interface ActiveRevisionDetail extends ActiveRevisionSummary {
  id: number;
  createdAt: string;
  fileCount: number;
  warningCount: number;
  timings: StepTimings;
}

/** A finding of a revision as the API shows it: where, which rule, what. */
export interface DiagnosticItem {
  file: string;
  line: number;
  column: number;
  rule: string;
  message: string;
}

/** The newest revision tried for a source, applied or not. */
export interface LastRevision {
  id: number;
  commit: string;
  /** `applied` or `invalid`. */
  status: string;
  createdAt: string;
  errorCount: number;
  warningCount: number;
  errors: DiagnosticItem[];
  warnings: DiagnosticItem[];
}

export interface RevisionItem {
  id: number;
  commit: string;
  status: string;
  errorCount: number;
  createdAt: string;
}

/** `GET /api/v1/sources/:name`. */
export interface SourceDetail extends Omit<SourceSummary, 'activeRevision'> {
  activeRevision: ActiveRevisionDetail | null;
  lastRevision: LastRevision | null;
  /** The last reconcile attempts that did something, newest first. */
  history: ReconcileAttempt[];
  /** The newest revisions (at most 20), newest first. */
  revisions: RevisionItem[];
}

/** One active definition in `GET /api/v1/definitions`. */
export interface DefinitionItem {
  source: string;
  kind: string;
  name: string;
  file: string;
  line: number;
  column: number;
  legacy: string | null;
  metadata: unknown;
  spec: unknown;
  /** The commit of the revision that added this version of the definition. */
  revision: string | null;
}

export interface DefinitionPage {
  items: DefinitionItem[];
  /** How many active definitions match the filters, regardless of limit and offset. */
  total: number;
  limit: number;
  offset: number;
}

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string };
}
