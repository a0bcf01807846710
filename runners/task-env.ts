// The environment a task starts with. Never the server's own: that holds database URLs and
// `EVENTOPS_SECRET_*` values. A task gets a minimal base picked from it by name (what tools need
// to find programs, home, locale and user), a TMPDIR of its own (removed with the attempt), then
// its own `env`, then eventops' variables, which win so a task cannot be misled about where it runs.

/** Variables copied from the server's environment when set. */
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'USER', 'LOGNAME', 'SHELL'] as const;

/** The base picked from `server` (PATH, HOME and SHELL get defaults when unset there). */
export function baseEnv(server: Readonly<Record<string, string | undefined>>, home: string): Record<string, string> {
  const base: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, SHELL: '/bin/sh' };
  for (const name of PASSED_THROUGH) {
    const value = server[name];
    if (value !== undefined && value !== '') base[name] = value;
  }
  return base;
}

export interface AttemptVariables {
  runId: string;
  task: string;
  attempt: number;
  workspace: string;
  outputFile: string;
  tmp: string;
}

/** base + TMPDIR (the attempt's own) + the task's env + the EVENTOPS_* variables of the attempt. */
export function taskEnv(base: Readonly<Record<string, string>>, env: Readonly<Record<string, string>>, attempt: AttemptVariables): Record<string, string> {
  return {
    ...base,
    TMPDIR: attempt.tmp,
    ...env,
    EVENTOPS_RUN_ID: attempt.runId,
    EVENTOPS_TASK: attempt.task,
    EVENTOPS_ATTEMPT: String(attempt.attempt),
    EVENTOPS_WORKSPACE: attempt.workspace,
    EVENTOPS_OUTPUT: attempt.outputFile,
  };
}
