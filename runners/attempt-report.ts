// What every adapter does around one attempt: lines to `io.onLine` with secrets masked, a
// throwing `onLine` kept rather than raised inside a stream handler (the attempt still runs to
// its end, so its processes or containers are still stopped), and results whose error is masked.
// `lines` is where every adapter turns a task's output bytes into lines: its long lines are cut
// only where no secret straddles the cut, so a secret is masked whole whatever its position.
import type { LogStream, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { createLineSplitter, MAX_LINE_BYTES, type LineSplitter } from './line-splitter.js';
import type { Masker } from './mask.js';

export interface AttemptReport {
  emit(stream: LogStream, text: string): void;
  /** As `emit`, for text the caller masked already (a long line it cuts after masking, so a cut cannot split a secret). */
  emitMasked(stream: LogStream, text: string): void;
  /** The task's output bytes of one stream as masked lines; a long line is cut around the secrets, never through one. */
  lines(stream: 'stdout' | 'stderr'): LineSplitter;
  /** A result; its error is masked. */
  ended(status: TaskResult['status'], exitCode: number | null, error?: string, outputs?: Record<string, string>): TaskResult;
  /** Throws when `onLine` threw during the attempt (call once it ended); else returns `result`. */
  settle(result: TaskResult): TaskResult;
}

export interface AttemptReportOptions {
  /**
   * Drop lines that arrive after `settle` (default false): for a runner whose streams and
   * clean-up requests may still report once the result was returned (Kubernetes), so no line
   * reaches a run whose attempt already ended.
   */
  quietAfterSettle?: boolean;
}

/** `mask` masks task lines and errors; `maskSystem` (default `mask`) the runner's own lines. */
export function attemptReport(execution: TaskExecution, io: RunnerIo, mask: Masker, maskSystem: (text: string) => string = mask, options: AttemptReportOptions = {}): AttemptReport {
  let lineError: { error: unknown } | undefined;
  let settled = false;
  const emitMasked = (stream: LogStream, text: string) => {
    if (lineError || (settled && options.quietAfterSettle)) return;
    try {
      io.onLine({ at: Date.now(), stream, text });
    } catch (error) {
      lineError = { error };
    }
  };
  return {
    emit: (stream, text) => emitMasked(stream, stream === 'system' ? maskSystem(text) : mask(text)),
    emitMasked,
    lines: (stream) => createLineSplitter((text) => emitMasked(stream, mask(text)), MAX_LINE_BYTES, mask.needles),
    ended: (status, exitCode, error, outputs = {}) => ({ status, exitCode, outputs, ...(error === undefined ? {} : { error: maskSystem(error) }) }),
    settle(result) {
      settled = true;
      if (lineError) throw new Error(`the task ${execution.task} of run ${execution.runId} ended (${result.status}), but io.onLine threw, so some of its lines were not reported`, { cause: lineError.error });
      return result;
    },
  };
}
