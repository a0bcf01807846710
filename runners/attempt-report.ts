// What every adapter does around one attempt: lines to `io.onLine` with secrets masked, a
// throwing `onLine` kept rather than raised inside a stream handler (the attempt still runs to
// its end, so its processes or containers are still stopped), and results whose error is masked.
import type { LogStream, RunnerIo, TaskExecution, TaskResult } from './runner.js';

export interface AttemptReport {
  emit(stream: LogStream, text: string): void;
  /** A result; its error is masked. */
  ended(status: TaskResult['status'], exitCode: number | null, error?: string, outputs?: Record<string, string>): TaskResult;
  /** Throws when `onLine` threw during the attempt (call once it ended); else returns `result`. */
  settle(result: TaskResult): TaskResult;
}

/** `mask` masks task lines and errors; `maskSystem` (default `mask`) the runner's own lines. */
export function attemptReport(execution: TaskExecution, io: RunnerIo, mask: (text: string) => string, maskSystem: (text: string) => string = mask): AttemptReport {
  let lineError: { error: unknown } | undefined;
  return {
    emit(stream, text) {
      if (lineError) return;
      try {
        io.onLine({ at: Date.now(), stream, text: stream === 'system' ? maskSystem(text) : mask(text) });
      } catch (error) {
        lineError = { error };
      }
    },
    ended: (status, exitCode, error, outputs = {}) => ({ status, exitCode, outputs, ...(error === undefined ? {} : { error: maskSystem(error) }) }),
    settle(result) {
      if (lineError) throw new Error(`the task ${execution.task} of run ${execution.runId} ended (${result.status}), but io.onLine threw, so some of its lines were not reported`, { cause: lineError.error });
      return result;
    },
  };
}
