// The public face of the reconciler that the HTTP server and the composition root use: start
// the per-source loops, ask for a reconcile now, stop. The loop itself is in reconcile-loop.ts.
import type { Condition } from '../schemas/database/index.js';

/** What one reconcile of one source did. */
export type ReconcileOutcomeKind =
  /** A new revision was validated and is now active. */
  | 'applied'
  /** Revision and source configuration unchanged since the last attempt: nothing parsed or written. */
  | 'unchanged'
  /** The revision has invalid files: not applied; the last good revision stays active. */
  | 'invalid'
  /** Fetching failed (see the conditions for the reason). */
  | 'failed'
  /** Another process holds this source's lock and is reconciling it. */
  | 'locked';

export interface ReconcileResult {
  source: string;
  outcome: ReconcileOutcomeKind;
  /** The revision that was looked at (a commit id, or `sha256:…` for a folder), when known. */
  revision?: string;
  conditions: Condition[];
  durationMs: number;
}

export interface Reconciler {
  /** The configured source names, in configuration order. */
  readonly sourceNames: readonly string[];
  /** Registers the sources in the database and starts the interval loops and folder watches. */
  start(): Promise<void>;
  /**
   * Reconciles `source` at once (or right after the reconcile in progress) and resolves with
   * its result. Rejects with UnknownSourceError for a name that is not configured.
   */
  requestReconcile(source: string): Promise<ReconcileResult>;
  /** Stops timers and watches and waits for reconciles in progress. Idempotent. */
  close(): Promise<void>;
}

export class UnknownSourceError extends Error {
  constructor(readonly source: string) {
    super(`no source named ${JSON.stringify(source)} is configured`);
    this.name = 'UnknownSourceError';
  }
}
