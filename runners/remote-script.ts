// The wrapper script that carries one attempt to a host eventops does not run on (SSH, a
// container, a pod): one POSIX `sh` text that makes the attempt's folders, writes the task's
// script, exports its environment, runs it in a session of its own (so the whole tree can be
// signalled), sweeps what it left in the background, and writes the results — the exit code and
// the raw outputs, each base64 — to a file the runner fetches (or prints them between markers
// after the task's own output, where nothing can be fetched afterwards: Kubernetes).
//
// Layout on the target, like the local runner's: `<root>/eventops-<random>/work` is the task's
// work folder (`$EVENTOPS_WORKSPACE`), and `…/private` holds the script, `$EVENTOPS_OUTPUT`,
// saved variables, TMPDIR, the task's process id and the results.
//
// Values (env, names) reach the target shell-quoted; the task's commands are written verbatim
// through a quoted heredoc whose delimiter holds a random nonce. Nothing else of the task's data
// becomes script text. The commands need only POSIX sh, plus `base64` for outputs and `setsid`
// (util-linux or busybox) to signal the task's whole tree; without setsid only the script's own
// process is signalled.
import { randomBytes } from 'node:crypto';
import type { TaskExecution } from './runner.js';
import { shellQuote, taskScript, VARIABLE_NAME } from './task-script.js';
import { insideFolder } from './work-folders.js';
import { OUTPUT_FILE_FACTOR, type OutputSource, type RawValue } from './read-outputs.js';

export interface RemoteScriptOptions {
  /** Absolute folder on the target under which the attempt's folder is made; default `${TMPDIR:-/tmp}` there. */
  root?: string;
  /** The largest value one output may have, in bytes. */
  maxOutputBytes: number;
  /** Leave the attempt's folder in place when the script ends (a container removed afterwards); default false. */
  keepFolder?: boolean;
  /** Also print the results on stdout after the task's output, between `markers`; default false. */
  printResults?: boolean;
}

export interface RemoteScript {
  /** The wrapper: run it with `sh -s` fed on stdin, or `sh <file>`. */
  text: string;
  /** The attempt's folder, as a shell word (it may expand `$TMPDIR` on the target). */
  folder: string;
  /** The results file, as a shell word. */
  resultsFile: string;
  /** The results file as a plain path, when `root` was given (to copy it out of a container). */
  resultsPath?: string;
  /** A command for the target's shell that sends the signal to the task's whole session. */
  signalCommand(signal: 'TERM' | 'KILL'): string;
  /** The lines around printed results (`printResults`). */
  markers: { start: string; end: string };
}

/** Why the attempt cannot start, in the words the local runner uses; undefined when it can. */
export function executionProblem(execution: TaskExecution): string | undefined {
  const badOutput = execution.outputs.find((o) => o.fromEnv !== undefined && !VARIABLE_NAME.test(o.fromEnv));
  if (badOutput) return `output "${badOutput.name}": fromEnv "${badOutput.fromEnv}" is not a variable name (letters, digits and _, not starting with a digit)`;
  if (execution.workdir !== undefined && insideFolder('/work', execution.workdir) === undefined) return `workdir "${execution.workdir}" is outside the task's work folder; give a path relative to it, without ".." leading out`;
  const badEnv = Object.keys(execution.env).find((name) => !VARIABLE_NAME.test(name));
  if (badEnv !== undefined) return `env "${badEnv}" is not a variable name (letters, digits and _, not starting with a digit)`;
  return undefined;
}

/** The wrapper for one attempt; throws when `executionProblem` has something to say. */
export function remoteScript(execution: TaskExecution, options: RemoteScriptOptions): RemoteScript {
  const problem = executionProblem(execution);
  if (problem) throw new Error(problem);
  const nonce = randomBytes(12).toString('hex');
  const name = `eventops-${nonce}`;
  if (options.root !== undefined && !options.root.startsWith('/')) throw new Error(`the root "${options.root}" is not an absolute path`);
  const root = options.root === undefined ? '"${TMPDIR:-/tmp}"' : shellQuote(options.root);
  const folder = `${root}/${name}`;
  const markers = { start: `::eventops-results-${nonce}::`, end: `::eventops-results-end-${nonce}::` };
  const max = options.maxOutputBytes;
  const captures = execution.outputs.flatMap((o) => (o.fromEnv === undefined ? [] : [o.fromEnv]));
  const script = taskScript(execution.commands, captures, { variable: '__EVENTOPS_ENV_DIR' });
  const delimiter = `__EVENTOPS_SCRIPT_${nonce}`;
  const shell = execution.shell ?? 'sh';
  const workdir = execution.workdir === undefined || execution.workdir === '' ? '' : `/${shellQuote(execution.workdir)}`;
  const exports = [
    `export TMPDIR="$__eo_private/tmp"`,
    ...Object.entries(execution.env).map(([key, value]) => `export ${key}=${shellQuote(value)}`),
    `export EVENTOPS_RUN_ID=${shellQuote(execution.runId)} EVENTOPS_TASK=${shellQuote(execution.task)} EVENTOPS_ATTEMPT=${execution.attempt}`,
    `export EVENTOPS_WORKSPACE="$__eo_base/work" EVENTOPS_OUTPUT="$__eo_private/output" __EVENTOPS_ENV_DIR="$__eo_private/env"`,
  ];
  const collect = [
    `__eo_emit output - "$__eo_private/output" ${max * OUTPUT_FILE_FACTOR}`,
    ...[...new Set(captures)].map((variable) => `__eo_emit capture ${variable} "$__eo_private/env/${variable}" ${max}`),
    ...execution.outputs.flatMap((o, index) => (o.fromFile === undefined ? [] : [`__eo_file ${index} ${shellQuote(o.fromFile)} ${max}`])),
  ];
  const text = [
    '# eventops: one attempt of one task (generated; see runners/remote-script.ts)',
    `__eo_base=${folder}`,
    '__eo_private="$__eo_base/private"',
    ...(options.root === undefined ? [] : [`mkdir -p ${root} 2>/dev/null`]),
    'if ! mkdir -m 700 "$__eo_base"; then echo "eventops: could not create the folder $__eo_base" >&2; exit 125; fi',
    ...(options.keepFolder ? [] : ['trap \'cd / && rm -rf "$__eo_base"\' EXIT']),
    'mkdir -m 700 "$__eo_base/work" "$__eo_private" "$__eo_private/env" "$__eo_private/tmp" || exit 125',
    // Whose attempt this folder is: how a server started again finds work it no longer owns.
    `printf '%s %s %s\\n' ${execution.attempt} ${shellQuote(execution.runId)} ${shellQuote(execution.task)} > "$__eo_private/attempt"`,
    `cat > "$__eo_private/script" <<'${delimiter}'`,
    script.endsWith('\n') ? script.slice(0, -1) : script,
    delimiter,
    ': > "$__eo_private/output"',
    ...exports,
    `mkdir -p "$__eo_base/work"${workdir} && cd "$__eo_base/work"${workdir} || exit 125`,
    // A session of its own: the task's whole tree shares one process group id, its pid.
    `if command -v setsid >/dev/null 2>&1; then setsid ${shellQuote(shell)} -e "$__eo_private/script" </dev/null & else ${shellQuote(shell)} -e "$__eo_private/script" </dev/null & fi`,
    '__eo_pid=$!',
    'echo "$__eo_pid" > "$__eo_private/pid"',
    // The wrapper itself stopped (docker stop, a pod deleted): pass it on to the whole tree.
    'trap \'kill -15 -"$__eo_pid" 2>/dev/null || kill -15 "$__eo_pid" 2>/dev/null\' TERM INT HUP',
    // `wait` reports a job killed by a signal ("Terminated", "Killed") on stderr: not the task's
    // line, and once an SSH connection is gone that write would kill the wrapper (SIGPIPE) before
    // it sweeps and writes the results.
    'while :; do',
    '  wait "$__eo_pid" 2>/dev/null; __eo_code=$?',
    '  kill -0 "$__eo_pid" 2>/dev/null || break',
    'done',
    'trap - TERM INT HUP',
    // Whatever the task left running in the background goes with it.
    'kill -9 -"$__eo_pid" 2>/dev/null',
    'cd "$__eo_base" || exit 125',
    '__eo_emit() {',
    '  if [ ! -e "$3" ]; then echo "$1 $2 missing"; return; fi',
    '  if [ ! -f "$3" ]; then echo "$1 $2 notfile"; return; fi',
    '  __eo_size=$(wc -c < "$3" | tr -d " ")',
    '  if [ "$__eo_size" -gt "$4" ]; then echo "$1 $2 big"; return; fi',
    '  printf \'%s %s ok \' "$1" "$2"; base64 < "$3" | tr -d "\\n"; echo',
    '}',
    '__eo_file() {',
    '  __eo_path="$__eo_base/work/$2"',
    '  if [ -e "$__eo_path" ]; then',
    '    __eo_real=$(readlink -f -- "$__eo_path" 2>/dev/null) || __eo_real="$__eo_path"',
    '    __eo_root=$(cd "$__eo_base/work" && pwd -P)',
    '    case "$__eo_real" in "$__eo_root"/*) ;; *) echo "file $1 outside"; return ;; esac',
    '  fi',
    '  __eo_emit file "$1" "$__eo_path" "$3"',
    '}',
    '{',
    '  echo "exit $__eo_code"',
    '  if [ "$__eo_code" -eq 0 ]; then',
    ...collect.map((line) => `    ${line}`),
    '  fi',
    '  echo end',
    '} > "$__eo_private/results"',
    ...(options.printResults ? [`printf '\\n%s\\n' ${shellQuote(markers.start)}`, 'cat "$__eo_private/results"', `printf '%s\\n' ${shellQuote(markers.end)}`] : []),
    'exit "$__eo_code"',
    '',
  ].join('\n');
  return {
    text,
    folder,
    resultsFile: `${folder}/private/results`,
    ...(options.root === undefined ? {} : { resultsPath: `${options.root.replace(/\/+$/, '')}/${name}/private/results` }),
    signalCommand: (signal) => {
      const number = signal === 'KILL' ? 9 : 15;
      return `__eo_pid=$(cat ${folder}/private/pid 2>/dev/null) && { kill -${number} -"$__eo_pid" 2>/dev/null || kill -${number} "$__eo_pid" 2>/dev/null; }`;
    },
    markers,
  };
}

export interface ParsedResults {
  exitCode: number;
  /** The raw outputs, for `collectOutputs`; each value already limited by the wrapper. */
  source: OutputSource;
}

/** Reads the results file's text; throws when it is not one the wrapper wrote whole. */
export function parseResults(text: string): ParsedResults {
  const lines = text.split('\n');
  const first = /^exit (\d+)$/.exec(lines[0] ?? '');
  if (!first) throw new Error('the results of the attempt are unreadable (no exit line)');
  if (!lines.includes('end')) throw new Error('the results of the attempt are cut short');
  const entries = new Map<string, RawValue>();
  for (const line of lines.slice(1)) {
    if (line === 'end') break;
    const [kind, key, state, data] = line.split(' ');
    if (kind === undefined || key === undefined || state === undefined) throw new Error(`the results of the attempt hold an unreadable line "${line.slice(0, 80)}"`);
    entries.set(`${kind} ${key}`, rawValue(state, data ?? ''));
  }
  const get = (key: string): RawValue => entries.get(key) ?? { kind: 'missing' };
  return {
    exitCode: Number(first[1]),
    source: {
      outputFile: async () => get('output -'),
      capture: async (name) => get(`capture ${name}`),
      file: async (_path, index) => get(`file ${index}`),
    },
  };
}

function rawValue(state: string, data: string): RawValue {
  switch (state) {
    case 'ok':
      return { kind: 'read', bytes: Buffer.from(data, 'base64') };
    case 'missing':
      return { kind: 'missing' };
    case 'notfile':
      return { kind: 'not-a-file' };
    case 'big':
      return { kind: 'too-big' };
    case 'outside':
      return { kind: 'outside' };
    default:
      throw new Error(`the results of the attempt hold an unknown state "${state}"`);
  }
}

/**
 * Splits printed results off a stream of stdout lines (`printResults`): lines before the start
 * marker are the task's (the one empty line the wrapper adds before the marker is dropped), lines
 * between the markers are the results text. Feed it WHOLE lines: a results line holds an output
 * base64 (up to 4/3 × 16 × maxOutputBytes long), so a line splitter cutting at 64 KiB would break
 * it; split with a larger cap and cut the task's own lines afterwards.
 */
export function createResultsSplitter(markers: RemoteScript['markers'], onTaskLine: (text: string) => void): { line(text: string): void; end(): string | undefined } {
  let state: 'task' | 'results' | 'done' = 'task';
  let heldEmpty = false;
  const results: string[] = [];
  return {
    line(text) {
      if (state === 'task') {
        if (text === markers.start) {
          state = 'results';
          return;
        }
        if (heldEmpty) onTaskLine('');
        heldEmpty = text === '';
        if (!heldEmpty) onTaskLine(text);
      } else if (state === 'results') {
        if (text === markers.end) state = 'done';
        else results.push(text);
      }
    },
    end() {
      if (state === 'task' && heldEmpty) onTaskLine('');
      return state === 'done' ? `${results.join('\n')}\n` : undefined;
    },
  };
}
