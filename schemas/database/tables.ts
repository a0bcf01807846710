// The tables of eventops, in one place (drizzle). Migrations are generated from this file with
// `npm run db:generate`, committed under `schemas/database/migrations/` and never edited after
// they land; the server applies them at start-up, on PostgreSQL and on the embedded PGlite.
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** A condition of a source's status, Kubernetes-style: `Ready` is derived from the others. */
export interface Condition {
  type: 'Ready' | 'Reconciling' | 'FetchFailed' | 'ValidationFailed' | 'Stalled';
  status: 'True' | 'False' | 'Unknown';
  /** PascalCase, e.g. `Succeeded`, `AuthenticationFailed`, `ValidationFailed`. */
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** One finding about a file of a revision, as stored (no secret ever reaches it). */
export interface StoredDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  rule: string;
  message: string;
}

/** Milliseconds spent in each step of one reconcile. */
export type StepTimings = Record<string, number>;

/** One reconcile that did something (new revision seen, a failure), newest first in `sources.history`. */
export interface ReconcileAttempt {
  at: string;
  revision?: string;
  /** `applied`, `invalid`, `failed`. */
  outcome: string;
  reason: string;
  message: string;
  durationMs: number;
}

export const sources = pgTable('sources', {
  name: text('name').primaryKey(),
  /** `git` or `local`. */
  type: text('type').notNull(),
  /** The repository URL (never with credentials) or the folder. */
  location: text('location').notNull(),
  ref: text('ref'),
  dir: text('dir').notNull().default(''),
  /** Hash of the source's configuration that shapes what gets applied (url, ref, dir, ignore, secrets). */
  configHash: text('config_hash'),
  /** The revision whose definitions are active; null until one applies. */
  activeRevisionId: bigint('active_revision_id', { mode: 'number' }),
  /** The last revision tried (applied or not), with the config hash it was tried with. */
  lastRevision: text('last_revision'),
  lastConfigHash: text('last_config_hash'),
  conditions: jsonb('conditions').$type<Condition[]>().notNull().default(sql`'[]'::jsonb`),
  history: jsonb('history').$type<ReconcileAttempt[]>().notNull().default(sql`'[]'::jsonb`),
  lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const revisions = pgTable(
  'revisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    source: text('source')
      .notNull()
      .references(() => sources.name, { onDelete: 'cascade' }),
    /** A git commit id, or `sha256:…` for a folder. */
    commit: text('commit').notNull(),
    configHash: text('config_hash').notNull(),
    /** `applied` or `invalid` (not applied: see `errors`). */
    status: text('status').notNull(),
    /** Every error and warning, with file, line and column. */
    diagnostics: jsonb('diagnostics').$type<StoredDiagnostic[]>().notNull().default(sql`'[]'::jsonb`),
    errorCount: integer('error_count').notNull().default(0),
    warningCount: integer('warning_count').notNull().default(0),
    fileCount: integer('file_count').notNull().default(0),
    definitionCount: integer('definition_count').notNull().default(0),
    timings: jsonb('timings').$type<StepTimings>().notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('revisions_source_id').on(t.source, t.id)],
);

/**
 * Definitions, versioned by revision: a row is live from `addedRevisionId` until
 * `removedRevisionId` (null while active). A revision that changes one file writes one row and
 * closes one, and a run can still read the definition of the revision it started with.
 */
export const definitions = pgTable(
  'definitions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    source: text('source')
      .notNull()
      .references(() => sources.name, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    /** `metadata.name`; for an Event (which has none) its file and document number, `events/x.yaml#1`. */
    name: text('name').notNull(),
    file: text('file').notNull(),
    line: integer('line').notNull(),
    column: integer('column').notNull(),
    /** The original eventops format a converted file came from, e.g. `pipelineDefinition`. */
    legacy: text('legacy'),
    metadata: jsonb('metadata').notNull().default(sql`'{}'::jsonb`),
    /** The v1 `spec` (for an Event: type, subject, labels and body). */
    spec: jsonb('spec').notNull(),
    /** sha256 of the definition's v1 value: unchanged content keeps its row. */
    contentHash: text('content_hash').notNull(),
    addedRevisionId: bigint('added_revision_id', { mode: 'number' }).notNull(),
    removedRevisionId: bigint('removed_revision_id', { mode: 'number' }),
  },
  (t) => [
    uniqueIndex('definitions_active').on(t.source, t.kind, t.name).where(sql`${t.removedRevisionId} is null`),
    index('definitions_kind_active').on(t.kind).where(sql`${t.removedRevisionId} is null`),
    index('definitions_history').on(t.source, t.addedRevisionId),
  ],
);

export type SourceRow = typeof sources.$inferSelect;
export type RevisionRow = typeof revisions.$inferSelect;
export type DefinitionRow = typeof definitions.$inferSelect;

/**
 * Jobs of the embedded queue driver (one process, no Redis): the same catalog as BullMQ, kept in
 * the database so a restart loses nothing. The id is the deterministic job id: adding a job whose
 * id exists does nothing.
 */
export const queueJobs = pgTable(
  'queue_jobs',
  {
    id: text('id').primaryKey(),
    queue: text('queue').notNull(),
    name: text('name').notNull(),
    payload: jsonb('payload').notNull(),
    /** `waiting`, `active`, `completed` or `failed`. */
    status: text('status').notNull().default('waiting'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(1),
    /** Runs lost because their process died while running them (counted apart from attempts: limits.jobs.maxCrashes). */
    crashes: integer('crashes').notNull().default(0),
    /** Not before this time (delays and backoff). */
    runAt: timestamp('run_at', { withTimezone: true }).notNull().defaultNow(),
    /** While `active`: when the worker's claim expires and another may take the job. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('queue_jobs_ready').on(t.queue, t.status, t.runAt)],
);

/**
 * Every event accepted, before anything is done with it: `202 Accepted` means this row is
 * committed. A delivery seen twice (same source and delivery id) is stored once.
 */
export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    /** `github`, `webhook/<name>`, `api`, `nats`, `schedule`. */
    source: text('source').notNull(),
    type: text('type').notNull(),
    /** GitHub's `action` (`opened`), when there is one. */
    action: text('action'),
    subject: text('subject'),
    /** The sender's id for this delivery (`X-GitHub-Delivery`, a CloudEvents id, a NATS sequence…). */
    deliveryId: text('delivery_id'),
    /** Selected headers only (never authorization or signatures). */
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    body: jsonb('body'),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
    /** `received` → `matched` / `unmatched` / `failed`. */
    status: text('status').notNull().default('received'),
    /** Per trigger: matched or why not (filled when matched). */
    verdicts: jsonb('verdicts').notNull().default(sql`'[]'::jsonb`),
    matchedAt: timestamp('matched_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('events_delivery').on(t.source, t.deliveryId),
    index('events_pending').on(t.status, t.receivedAt).where(sql`${t.status} = 'received'`),
  ],
);

/** API tokens: only a sha256 of each token is stored, with its scopes. */
export const apiTokens = pgTable('api_tokens', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  name: text('name').notNull().unique(),
  /** hex sha256 of the token. */
  hash: text('hash').notNull().unique(),
  /** `admin`, `events:write`, `runs:write`, `read`. */
  scopes: jsonb('scopes').$type<string[]>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
});

export type QueueJobRow = typeof queueJobs.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;

/**
 * A run of a pipeline, created pending when a trigger matches an event and pinned to the
 * revision the trigger came from. A trigger fires once per event and pipeline entry: matching
 * twice creates nothing new. A `pipeline` task starts a child run (same event, trigger and
 * revision) that names its parent run and task.
 */
export const runs = pgTable(
  'runs',
  {
    id: text('id').primaryKey(),
    source: text('source').notNull(),
    trigger: text('trigger').notNull(),
    pipeline: text('pipeline').notNull(),
    /** Position of the pipeline in the trigger's `pipelines` list. */
    pipelineIndex: integer('pipeline_index').notNull(),
    revisionId: bigint('revision_id', { mode: 'number' }).notNull(),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id),
    inputs: jsonb('inputs').notNull().default(sql`'{}'::jsonb`),
    dedupeKey: text('dedupe_key'),
    /** `pending` → `running` → `succeeded` | `failed` | `cancelled` | `timed_out`. */
    status: text('status').notNull().default('pending'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    parentRunId: text('parent_run_id'),
    parentTask: text('parent_task'),
    /** The pipeline's `concurrency.group`, rendered when the run starts. */
    concurrencyGroup: text('concurrency_group'),
    /** Run-wide `contexts`, set by task outputs with `setToContext`. */
    contexts: jsonb('contexts').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /** The pipeline's `outputs`, rendered when the run ends. */
    outputs: jsonb('outputs').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /** Why the run failed, was cancelled or timed out, for people. */
    error: text('error'),
    /** Set by cancel or the run's timeout: what the run ends as once its tasks have stopped. */
    stopRequested: text('stop_requested'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** When the run's `timeout` runs out. */
    deadlineAt: timestamp('deadline_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    /** New (random) at every transition: a process whose cached task states carry this version may use them. */
    version: text('version').notNull().default(''),
  },
  (t) => [
    uniqueIndex('runs_once_per_event').on(t.eventId, t.source, t.trigger, t.pipelineIndex).where(sql`${t.parentRunId} is null`),
    uniqueIndex('runs_child_once').on(t.parentRunId, t.parentTask).where(sql`${t.parentRunId} is not null`),
    index('runs_dedupe').on(t.source, t.trigger, t.dedupeKey, t.createdAt),
    index('runs_created').on(t.createdAt, t.id),
    index('runs_group').on(t.concurrencyGroup, t.createdAt).where(sql`${t.concurrencyGroup} is not null`),
    index('runs_unfinished').on(t.status).where(sql`${t.status} in ('pending', 'running')`),
  ],
);

/** One earlier attempt of a task, kept when it is retried. */
export interface TaskAttempt {
  attempt: number;
  status: string;
  exitCode: number | null;
  error: string | null;
  actuator: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** The worker shut down mid-attempt and gave the task back: this attempt does not count against `retries`. */
  handedBack?: true;
}

/**
 * The state of one task of a run: `pending` → `queued` → `running` → `succeeded` | `failed` |
 * `skipped` | `cancelled` | `timed_out`, or `waiting_approval` for an approval task. `attempt`
 * counts the pipeline's own retries (1 for the first); a worker's result is recorded only for
 * the attempt it ran, so a completion is recorded once.
 */
export const taskRuns = pgTable(
  'task_runs',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** `tasks` or `finally`. */
    phase: text('phase').notNull(),
    /** Position in the pipeline (for display). */
    position: integer('position').notNull(),
    type: text('type').notNull(),
    status: text('status').notNull().default('pending'),
    attempt: integer('attempt').notNull().default(0),
    /** `<source>/<name>` of the actuator that ran the current attempt. */
    actuator: text('actuator'),
    exitCode: integer('exit_code'),
    outputs: jsonb('outputs').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    error: text('error'),
    /** Why a task was skipped: its `if` was false, or a task it needs did not succeed. */
    skipReason: text('skip_reason'),
    childRunId: text('child_run_id'),
    /** A retry waits until then. */
    notBefore: timestamp('not_before', { withTimezone: true }),
    /** While running: the worker renews this; past it, the attempt is taken as lost. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    worker: text('worker'),
    /** Approval tasks: who decided, and how. */
    decidedBy: text('decided_by'),
    decision: text('decision'),
    attempts: jsonb('attempts').$type<TaskAttempt[]>().notNull().default(sql`'[]'::jsonb`),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.name] }),
    index('task_runs_active').on(t.status, t.leaseUntil).where(sql`${t.status} in ('queued', 'running')`),
    index('task_runs_actuator').on(t.actuator).where(sql`${t.status} = 'running'`),
  ],
);

/** A task's log, in chunks of lines as the worker flushed them (`lines`: `{ at, stream, text }`). */
export const logChunks = pgTable(
  'log_chunks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    task: text('task').notNull(),
    attempt: integer('attempt').notNull(),
    lines: jsonb('lines').$type<{ at: number; stream: string; text: string }[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('log_chunks_run').on(t.runId, t.task, t.id)],
);

export type RunRow = typeof runs.$inferSelect;
export type TaskRunRow = typeof taskRuns.$inferSelect;
export type LogChunkRow = typeof logChunks.$inferSelect;

/**
 * The agents (`eventops agent`) that have connected, and where: the process holding an agent's
 * connection renews `last_seen_at` while it holds it, so a process that died leaves a row that
 * goes stale rather than one that claims a connection.
 */
export const agents = pgTable('agents', {
  id: text('id').primaryKey(),
  /** The worker id of the process holding the connection (or that held it last). */
  worker: text('worker').notNull(),
  version: text('version'),
  /** What the agent runs: `local`, `docker`. */
  runs: jsonb('runs').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
  connectedAt: timestamp('connected_at', { withTimezone: true }).notNull(),
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull(),
  /** Set when the connection ended; null while it is held. */
  disconnectedAt: timestamp('disconnected_at', { withTimezone: true }),
});
export type AgentRow = typeof agents.$inferSelect;

/**
 * What eventops wrote to GitHub for a top-level run: where (repository, commit, pull request,
 * installation) and the check run it created, so that run's later states update that check run
 * (PATCH) and never create a second one. `lockUntil` lets one reporter at a time write for a run.
 */
export const githubReports = pgTable('github_reports', {
  runId: text('run_id')
    .primaryKey()
    .references(() => runs.id, { onDelete: 'cascade' }),
  owner: text('owner').notNull(),
  repo: text('repo').notNull(),
  /** The commit the check run is on; null until known (a comment on a PR: looked up), or none (a comment on an issue). */
  headSha: text('head_sha'),
  /** The issue or pull request the run belongs to (its sticky comment goes there), when there is one. */
  issueNumber: integer('issue_number'),
  /** Whether `issueNumber` is a pull request. */
  isPull: boolean('is_pull').notNull().default(false),
  installationId: bigint('installation_id', { mode: 'number' }),
  checkRunId: bigint('check_run_id', { mode: 'number' }),
  /** The run's version (runs.version) that GitHub shows now. */
  reportedVersion: text('reported_version'),
  lockUntil: timestamp('lock_until', { withTimezone: true }),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
export type GithubReportRow = typeof githubReports.$inferSelect;

/**
 * The `eventops/definitions` check run of one commit of a source's repository (owner and repo in
 * lower case): its id, so a retried or repeated check PATCHes it and never creates a second; how
 * many annotations it was sent (GitHub appends them, so a retry sends only the rest); what its
 * completed report showed (`reportedKey`: the conclusion and the active revisions its plan was
 * made against; null while in progress); and a lease so one checker at a time writes it.
 */
export const githubDefinitionChecks = pgTable(
  'github_definition_checks',
  {
    owner: text('owner').notNull(),
    repo: text('repo').notNull(),
    headSha: text('head_sha').notNull(),
    installationId: bigint('installation_id', { mode: 'number' }),
    checkRunId: bigint('check_run_id', { mode: 'number' }),
    annotationsSent: integer('annotations_sent').notNull().default(0),
    reportedKey: text('reported_key'),
    lockUntil: timestamp('lock_until', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.owner, t.repo, t.headSha] })],
);
export type GithubDefinitionCheckRow = typeof githubDefinitionChecks.$inferSelect;

/**
 * The sticky comment of one pipeline on one issue or pull request: created by the first run that
 * comments there, then edited by every later report (of that run or of a newer run of the same
 * pipeline), so an issue gets one comment per pipeline rather than one per run or per state.
 */
export const githubComments = pgTable(
  'github_comments',
  {
    owner: text('owner').notNull(),
    repo: text('repo').notNull(),
    issueNumber: integer('issue_number').notNull(),
    pipeline: text('pipeline').notNull(),
    commentId: bigint('comment_id', { mode: 'number' }),
    /** The run the comment shows now. */
    runId: text('run_id'),
    /** While one reporter creates the comment, others wait (no second comment). */
    lockUntil: timestamp('lock_until', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.owner, t.repo, t.issueNumber, t.pipeline] })],
);

/** What eventops answered to the slash-commands of one comment: done once, however often its job runs. */
export const githubCommandReplies = pgTable('github_command_replies', {
  eventId: text('event_id')
    .primaryKey()
    .references(() => events.id, { onDelete: 'cascade' }),
  /** Reactions added (`eyes`, `confused`). */
  reactions: jsonb('reactions').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
  replyId: bigint('reply_id', { mode: 'number' }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The CloudEvents of run and task status changes (an outbox): written in the transaction of the
 * transition, numbered per run (`seq`, 1, 2, …), then published in that order by `publish-run-events`
 * jobs. `id` is the CloudEvent id (`<run id>.<seq>`), the same on every retry, so sinks dedupe.
 */
export const runEvents = pgTable(
  'run_events',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    /** The whole CloudEvent (JSON, structured mode). */
    event: jsonb('event').$type<Record<string, unknown>>().notNull(),
    /** `started`, `succeeded`, …, or `task.<status>`: what `notify[].on` selects. */
    on: text('on').notNull(),
    /** The NATS subject under `nats.runsPrefix`, without the prefix. */
    subject: text('subject').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);
export type RunEventRow = typeof runEvents.$inferSelect;

/**
 * How far each sink of a run got: the last `seq` it was sent (events it does not select count as
 * sent), and a short lease so one process at a time sends to it — which keeps the order.
 */
export const runEventCursors = pgTable(
  'run_event_cursors',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** `nats` (the runs subjects), or `pipeline/<i>` / `trigger/<i>`: a `notify` entry. */
    sink: text('sink').notNull(),
    sent: integer('sent').notNull().default(0),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    leaseOwner: text('lease_owner'),
    /** The last delivery error, for people (never a header value). */
    error: text('error'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.sink] })],
);
