// The runner interface: one adapter per actuator type (local, ssh, docker, kubernetes, agent)
// runs one attempt of one task and reports its lines, exit and outputs. The run engine renders
// everything before a runner sees it: commands hold no `${{ }}` (expressions were turned into
// environment variables), env values are plain strings, secrets are resolved and listed for
// masking. A runner never reads the database or the queue.

/** One attempt of one task, ready to execute. */
export interface TaskExecution {
  runId: string;
  task: string;
  /** 1 for the first attempt; retries count up. */
  attempt: number;
  /** Shell lines run in order in one script; the first failing line fails the task (`sh -e`). */
  commands: readonly string[];
  /** The shell that runs the script; default `sh`. */
  shell?: string;
  /** Environment of the script, on top of a minimal base (PATH, HOME, LANG…); never the server's own environment. */
  env: Readonly<Record<string, string>>;
  /** A folder inside the task's work folder to start in (relative). */
  workdir?: string;
  /** Container image (docker, kubernetes; an agent that runs docker tasks). */
  image?: string;
  /** Limits of a container (docker, kubernetes): CPU in cores (0.5 = half a core), memory in bytes. */
  resources?: { cpu?: number; memoryBytes?: number };
  /** Kill the task (its whole process group) after this long; absent: no limit. */
  timeoutMs?: number;
  /** Outputs to read when the commands end: an environment variable's final value or a file's content. */
  outputs: readonly { name: string; fromEnv?: string; fromFile?: string }[];
  /** Values that must never appear in a log line (replaced by `***`). */
  secrets: readonly string[];
}

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface LogLine {
  /** Milliseconds since the epoch, when the line was read. */
  at: number;
  stream: LogStream;
  /** The line without its newline, secrets masked. */
  text: string;
}

export interface TaskResult {
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  /** The script's exit code; null when it was killed or never started. */
  exitCode: number | null;
  /** Every output found: declared `fromEnv`/`fromFile` ones, and `name=value` lines the task wrote to `$EVENTOPS_OUTPUT`. */
  outputs: Record<string, string>;
  /** Why it did not succeed, for people (secrets masked). */
  error?: string;
}

export interface RunnerIo {
  onLine(line: LogLine): void;
  /** Aborted when the task is cancelled: the runner kills the task and resolves `cancelled`. */
  signal: AbortSignal;
}

/** One attempt of one task, as labels and pid files name it. */
export interface AttemptKey {
  runId: string;
  task: string;
  attempt: number;
}

/**
 * How a runner tells work it finds left behind (a container, a remote process group) from work a
 * live attempt still owns. Given by the run engine's side, which alone reads the database.
 */
export interface AttemptOwnership {
  /** True while the attempt is its task's current one, running, with its lease held by a live worker. */
  owned(attempt: AttemptKey): Promise<boolean>;
  /** Says in the attempt's log that its left-over work (`what`: "container abc…") was stopped. */
  stopped(attempt: AttemptKey, what: string): Promise<void>;
}

export interface Runner {
  readonly type: 'local' | 'ssh' | 'docker' | 'kubernetes' | 'agent';
  /** Runs the attempt to its end. Rejects only for the runner's own failures (it could not start at all). */
  run(execution: TaskExecution, io: RunnerIo): Promise<TaskResult>;
  /**
   * Stops work of attempts no live worker owns any more (left by a server that was killed), as
   * told by the ownership the runner was built with; returns what it stopped. Optional: runners
   * whose work cannot outlive the server (local) have none.
   */
  reap?(): Promise<string[]>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}
