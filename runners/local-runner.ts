// The `local` runner: runs a task's commands in a shell on the eventops host itself. Each attempt
// gets a fresh work folder, a minimal environment (never the server's own), and its own process
// group, which is killed whole on timeout or cancel and swept when the script ends, so nothing
// it started outlives it. Lines reach `io.onLine` with secrets masked; outputs are read from
// captured variables, files of the work folder and `$EVENTOPS_OUTPUT` once the script ended well.
import { writeFile, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
import { attemptReport } from './attempt-report.js';
import { createMasker } from './mask.js';
import { attemptFolders, createAttemptFolders, insideFolder, removeAttemptFolders } from './work-folders.js';
import { taskScript, VARIABLE_NAME } from './task-script.js';
import { baseEnv, taskEnv } from './task-env.js';
import { superviseScript, type ScriptEnding } from './supervise-script.js';
import { readOutputs } from './read-outputs.js';
import { durationText } from './duration-text.js';

export interface LocalRunnerOptions {
  /** Parent of every work folder: `<workRoot>/<runId>/<task>-<attempt>`. */
  workRoot: string;
  /** Between SIGTERM and SIGKILL when a task is stopped; default 5000. */
  killGraceMs?: number;
  /** Keep work folders after the attempt (to debug a task); default false. */
  keepWorkFolders?: boolean;
  /** The largest value one output may have, in bytes; default 1 MiB. */
  maxOutputBytes?: number;
}

/** A runner of `local` tasks. The server's environment is read once, here: PATH, HOME, locale and user. */
export function createLocalRunner(options: LocalRunnerOptions): Runner {
  const settings: Settings = {
    workRoot: options.workRoot,
    killGraceMs: options.killGraceMs ?? 5_000,
    keepWorkFolders: options.keepWorkFolders ?? false,
    maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
    base: baseEnv(process.env, homedir()),
  };
  let closed = false;
  return {
    type: 'local',
    async run(execution, io) {
      if (closed) throw new Error('the local runner is closed');
      return runAttempt(execution, io, settings);
    },
    // Nothing is held between attempts; running attempts are stopped through their own signal.
    async close() {
      closed = true;
    },
  };
}

interface Settings {
  workRoot: string;
  killGraceMs: number;
  keepWorkFolders: boolean;
  maxOutputBytes: number;
  base: Record<string, string>;
}

async function runAttempt(execution: TaskExecution, io: RunnerIo, settings: Settings): Promise<TaskResult> {
  // A throwing onLine is kept: the attempt still runs to its end (its processes must be stopped either way), then run() rejects.
  const report = attemptReport(execution, io, createMasker(execution.secrets));
  const { emit, ended } = report;

  if (io.signal.aborted) {
    emit('system', 'cancelled before it started');
    return ended('cancelled', null, 'cancelled');
  }
  const badOutput = execution.outputs.find((o) => o.fromEnv !== undefined && !VARIABLE_NAME.test(o.fromEnv));
  if (badOutput) return ended('failed', null, `output "${badOutput.name}": fromEnv "${badOutput.fromEnv}" is not a variable name (letters, digits and _, not starting with a digit)`);
  const folders = attemptFolders(settings.workRoot, execution.runId, execution.task, execution.attempt);
  const cwd = insideFolder(folders.work, execution.workdir ?? '');
  if (cwd === undefined) return ended('failed', null, `workdir "${execution.workdir}" is outside the task's work folder; give a path relative to it, without ".." leading out`);

  let result: TaskResult;
  try {
    await createAttemptFolders(folders);
    await mkdir(cwd, { recursive: true });
    const captures = execution.outputs.flatMap((o) => (o.fromEnv === undefined ? [] : [o.fromEnv]));
    await writeFile(folders.script, taskScript(execution.commands, captures, folders.captureDir), { mode: 0o600 });
    await writeFile(folders.outputFile, '', { mode: 0o600 });
    const ending = await superviseScript({
      shell: execution.shell ?? 'sh',
      script: folders.script,
      cwd,
      env: taskEnv(settings.base, execution.env, { runId: execution.runId, task: execution.task, attempt: execution.attempt, workspace: folders.work, outputFile: folders.outputFile, tmp: folders.tmp }),
      ...(execution.timeoutMs === undefined ? {} : { timeoutMs: execution.timeoutMs }),
      killGraceMs: settings.killGraceMs,
      signal: io.signal,
      onLine: emit,
      lines: report.lines,
    });
    result = await resultOf(ending);
  } finally {
    if (!settings.keepWorkFolders) {
      await removeAttemptFolders(folders).catch((error: unknown) => emit('system', `could not remove the work folder ${folders.work}: ${error instanceof Error ? error.message : String(error)}`));
    }
  }
  return report.settle(result);

  async function resultOf(ending: ScriptEnding): Promise<TaskResult> {
    switch (ending.kind) {
      case 'exited': {
        if (ending.code !== 0) return ended('failed', ending.code, `exit code ${ending.code}`);
        const read = await readOutputs(execution.outputs, { workFolder: folders.work, captureDir: folders.captureDir, outputFile: folders.outputFile, maxBytes: settings.maxOutputBytes });
        return read.ok ? ended('succeeded', 0, undefined, read.outputs) : ended('failed', 0, read.error);
      }
      case 'killed':
        return ended('failed', null, `killed by ${ending.signal}`);
      case 'timed_out':
        return ended('timed_out', null, `timed out after ${durationText(ending.afterMs)}`);
      case 'cancelled':
        return ended('cancelled', null, 'cancelled');
      case 'not_started':
        return ended('failed', null, ending.error);
      default:
        return assertNever(ending);
    }
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected value ${JSON.stringify(value)}`);
}
