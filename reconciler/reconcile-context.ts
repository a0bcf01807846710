// What one reconcile of one source carries from step to step, and what a source keeps in
// memory between reconciles (parsed files by blob id, the last validation pass).
import type { Logger } from 'pino';
import type { Database, SourceRow } from '../schemas/database/index.js';
import type { IncrementalResult, ParsedFile, ValidationState } from '../schemas/index.js';
import type { Limits, SourceConfig } from '../config/index.js';
import type { ReconcileOutcomeKind } from './reconciler.js';
import type { DefinitionSource, SourceSnapshot } from './sources/source.js';

/** A source's row and the commit of its active revision. */
export type SourceState = SourceRow & { activeCommit: string | null };

/** Kept per source for the life of the process. */
export interface SourceMemory {
  /** Parsed files by `path` → the blob id they were parsed from. */
  parsed: Map<string, { oid: string; file: ParsedFile }>;
  validation?: ValidationState;
}

/** Counters a test or benchmark can read: what reconciles really did. */
export interface SourceStats {
  reconciles: number;
  filesParsed: number;
  revisionsWritten: number;
  definitionsInserted: number;
}

export interface ReconcileContext {
  config: SourceConfig;
  /** `limits.yaml` (default DEFAULT_LIMITS.yaml). */
  yaml?: Limits['yaml'];
  /** Hash of the parts of the source's configuration that shape the applied set. */
  configHash: string;
  db: Database['db'];
  source: DefinitionSource;
  memory: SourceMemory;
  stats: SourceStats;
  logger: Logger;
  signal: AbortSignal;
  now: () => Date;
  /** The source's row as the reconcile began (read under the lock). */
  row: SourceState;
  timings: Record<string, number>;
  revision?: string;
  snapshot?: SourceSnapshot;
  files?: ParsedFile[];
  validation?: IncrementalResult;
  /** Set by the step that ends the reconcile early or by the last one. */
  outcome?: ReconcileOutcomeKind;
  /** Active revision commit after this reconcile (for status). */
  activeCommit?: string;
  applied?: { revisionId: number; inserted: number; closed: number };
}

/** Every step has this signature; returning 'stop' ends the reconcile (the summary still runs). */
export type Step = (ctx: ReconcileContext) => Promise<'continue' | 'stop'>;
