// The JSON shapes of the runs API (`/api/v1/runs…`), shared by the routes that build them and the
// CLI that prints them. Timestamps are ISO 8601 strings in UTC; durations are milliseconds.

/** A run's statuses: `pending` → `running` → one of the last four. */
export const RUN_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type RunStatusName = (typeof RUN_STATUSES)[number];

/** The statuses after which nothing about a run changes any more. */
export const FINISHED_RUN_STATUSES: readonly string[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
/** The same for a task (an approval that waits is not finished). */
export const FINISHED_TASK_STATUSES: readonly string[] = ['succeeded', 'failed', 'skipped', 'cancelled', 'timed_out'];

/** One run in `GET /api/v1/runs`. */
export interface RunSummary {
  id: string;
  source: string;
  trigger: string;
  pipeline: string;
  eventId: string;
  status: string;
  /** The revision of `source` the run is pinned to. */
  revisionId: number;
  /** Set for the child run of a `pipeline` task: the run and task that started it. */
  parentRunId: string | null;
  parentTask: string | null;
  /** Why the run failed, was cancelled or timed out, for people. */
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** From start to finish; null until the run has finished (or when it never started). */
  durationMs: number | null;
}

export interface RunPage {
  /** Newest first. */
  runs: RunSummary[];
  /** Present when there are more: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

/** One task of a run, as `GET /api/v1/runs/:id` shows it. */
export interface TaskItem {
  name: string;
  /** `tasks` or `finally`. */
  phase: string;
  /** The tasks it waits for (the pipeline's `needs`): the edges of the run's DAG. */
  needs: string[];
  type: string;
  status: string;
  /** The current attempt, 1 for the first; 0 before it was queued. */
  attempt: number;
  /** `<source>/<name>` of the actuator that ran the current attempt. */
  actuator: string | null;
  exitCode: number | null;
  outputs: Record<string, unknown>;
  error: string | null;
  /** `condition` (its `if` was false) or `dependency` (a task it needs did not succeed). */
  skipReason: string | null;
  /** A `pipeline` task: the child run it started. */
  childRunId: string | null;
  /** An approval task: `approve` or `reject`, and the name of the token that decided. */
  decision: string | null;
  decidedBy: string | null;
  /** Earlier attempts of a retried task, oldest first. */
  attempts: { attempt: number; status: string; exitCode: number | null; error: string | null; actuator: string | null; startedAt: string | null; finishedAt: string | null }[];
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
}

/** A run started by a `pipeline` task of the run shown. */
export interface ChildRunItem {
  id: string;
  parentTask: string | null;
  pipeline: string;
  status: string;
}

/** `GET /api/v1/runs/:id`. */
export interface RunDetail extends RunSummary {
  /** The commit (or folder digest) of `revisionId`. */
  revision: string | null;
  inputs: unknown;
  /** Run-wide values set by task outputs with `setToContext`. */
  contexts: Record<string, unknown>;
  /** The pipeline's `outputs`, rendered when the run ended. */
  outputs: Record<string, unknown>;
  concurrencyGroup: string | null;
  /** `cancelled` or `timed_out` once a stop was asked for; the run ends so when its tasks have stopped. */
  stopRequested: string | null;
  /** When the pipeline's `timeout` runs out. */
  deadlineAt: string | null;
  /** In pipeline order (main tasks, then `finally`). */
  tasks: TaskItem[];
  children: ChildRunItem[];
}

/** One line of a task's log. */
export interface LogLineItem {
  task: string;
  attempt: number;
  at: string;
  /** `stdout`, `stderr` or `system` (what eventops itself says about the task). */
  stream: string;
  text: string;
}

/** `GET /api/v1/runs/:id/logs` without `follow`. */
export interface LogPage {
  lines: LogLineItem[];
  /** The id of the last chunk read from (else the `after` given, 0 when none): pass it as `after` to read on. */
  next: number;
  /** 0 when chunk `next` was read whole; else how many of its lines were (the page ended inside it): pass it as `line`. */
  nextLine: number;
  /** True when the answer stopped at its size limit (limits.logs.pageBytes) and more lines are already there. */
  more: boolean;
}

/** The data of the `end` event of a followed log. */
export interface LogEnd {
  /** The run's status when the stream ended. */
  status: string;
  /** With `task`: the task followed and its final status. */
  task?: string;
  taskStatus?: string;
}

/** The answer of `POST /api/v1/runs/:id/cancel`. */
export interface CancelAnswer {
  id: string;
  status: string;
  stopRequested: string | null;
}

/** The answer of `POST /api/v1/runs/:id/tasks/:task/approve|reject`. */
export interface DecisionAnswer {
  runId: string;
  task: TaskItem;
}
