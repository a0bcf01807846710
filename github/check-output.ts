// What a run's check run says: its status and conclusion, a title, a summary with a table of the
// tasks (state, attempts, duration), the tail of a failed task's log in the text, and an
// annotation per failed task on the pipeline's file. Kept within GitHub's limits: 65,535
// characters per field, annotations sent 50 per request. Pure.

/** GitHub's limit on a check run's summary and text. */
export const CHECK_TEXT_LIMIT = 65_535;
/** Annotations GitHub takes per create or update request. */
export const ANNOTATIONS_PER_REQUEST = 50;

export interface CheckState {
  status: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'cancelled' | 'timed_out' | 'neutral';
}

/** A run's status as a check run's status and conclusion. */
export function checkState(runStatus: string): CheckState {
  switch (runStatus) {
    case 'pending':
      return { status: 'queued' };
    case 'running':
      return { status: 'in_progress' };
    case 'succeeded':
      return { status: 'completed', conclusion: 'success' };
    case 'failed':
      return { status: 'completed', conclusion: 'failure' };
    case 'cancelled':
      return { status: 'completed', conclusion: 'cancelled' };
    case 'timed_out':
      return { status: 'completed', conclusion: 'timed_out' };
    default:
      return { status: 'completed', conclusion: 'neutral' };
  }
}

export interface CheckTask {
  name: string;
  status: string;
  attempt: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
}

export interface CheckAnnotation {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: 'notice' | 'warning' | 'failure';
  title?: string;
  message: string;
}

export interface CheckOutputInput {
  run: { id: string; pipeline: string; status: string; error: string | null; revision: string; source: string };
  tasks: readonly CheckTask[];
  /** The last log lines of the first failed task, secrets already masked. */
  failedLog?: { task: string; lines: readonly string[] };
  /** The pipeline's file in the event's repository, when the run's source is that repository. */
  pipelineFile?: { path: string; line: number };
  /** The run's page, for people. */
  runUrl?: string;
  now: number;
}

export interface CheckOutput {
  title: string;
  summary: string;
  text?: string;
  annotations: CheckAnnotation[];
}

const STATE_ICON: Record<string, string> = { succeeded: '✅', failed: '❌', cancelled: '⏹️', timed_out: '⏱️', skipped: '⏭️', running: '🔄', queued: '⏳', pending: '⏳', waiting_approval: '✋' };

export function checkOutput(input: CheckOutputInput): CheckOutput {
  const { run } = input;
  const counts = new Map<string, number>();
  for (const t of input.tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const tally = [...counts].map(([status, n]) => `${n} ${status.replace('_', ' ')}`).join(', ');
  const title = `${run.pipeline}: ${run.status.replace('_', ' ')}${tally ? ` (${tally})` : ''}`;
  const rows = input.tasks.map((t) => `| ${cell(t.name)} | ${STATE_ICON[t.status] ?? ''} ${t.status.replace('_', ' ')} | ${t.attempt} | ${duration(t, input.now)} |`);
  const summary = clip(
    [
      `Run \`${run.id}\` of pipeline **${cell(run.pipeline)}** from source \`${cell(run.source)}\` at revision \`${run.revision.slice(0, 12)}\`${input.runUrl ? ` ([details](${input.runUrl}))` : ''}.`,
      ...(run.error ? ['', `**${cell(run.error)}**`] : []),
      '',
      '| task | state | attempt | duration |',
      '|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
  const output: CheckOutput = { title: clip(title, 255), summary, annotations: [] };
  if (input.failedLog && input.failedLog.lines.length > 0) {
    const head = `Last lines of the log of task \`${cell(input.failedLog.task)}\`:\n\n`;
    const fence = '```';
    // Keep the end of the log: that is where a failure shows.
    let body = input.failedLog.lines.join('\n').replaceAll(fence, '`​``');
    const room = CHECK_TEXT_LIMIT - head.length - 2 * fence.length - 16;
    if (body.length > room) body = `…${body.slice(body.length - room + 1)}`;
    output.text = `${head}${fence}text\n${body}\n${fence}`;
  }
  if (input.pipelineFile) {
    for (const t of input.tasks) {
      if (t.status !== 'failed' && t.status !== 'timed_out') continue;
      output.annotations.push({
        path: input.pipelineFile.path,
        start_line: input.pipelineFile.line,
        end_line: input.pipelineFile.line,
        annotation_level: 'failure',
        title: `task ${t.name} ${t.status.replace('_', ' ')}`,
        message: clip(t.error ?? t.status, 64 * 1024),
      });
    }
  }
  return output;
}

/** Annotations in requests of at most ANNOTATIONS_PER_REQUEST (one empty batch when there are none). */
export function annotationBatches<T>(annotations: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) batches.push(annotations.slice(i, i + ANNOTATIONS_PER_REQUEST));
  return batches.length > 0 ? batches : [[]];
}

function duration(t: CheckTask, now: number): string {
  if (!t.startedAt) return '–';
  const ms = (t.finishedAt?.getTime() ?? now) - t.startedAt.getTime();
  if (ms < 1_000) return `${Math.max(0, ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Text safe in a Markdown table cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function clip(text: string, limit = CHECK_TEXT_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
