// `eventops serve` processes for the scale benchmark (the built CLI, bin/eventops.js), each the
// leader of its own process group so that stopping it reaches whatever it started. Their JSON log
// lines are read as they arrive and only what the checks need is kept: how often each event was
// logged as matched and each run as finished, what the sweepers repaired, and the error lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../bench-results.js';

export interface LogCounts {
  /** eventId → 'event matched' lines (written after the match committed). */
  eventMatched: Map<string, number>;
  /** runId → 'run finished' lines (written in the transition that ended the run). */
  runFinished: Map<string, number>;
  /** What the sweepers logged they did, summed: `events` re-enqueued, and the run sweeper's `lost`, `requeued`, `started`, … */
  swept: Record<string, number>;
  /** Lines at level error or fatal, as written (at most 50 kept). */
  errors: string[];
}

export interface ServeProcess {
  name: string;
  pid: number;
  url: string;
  /** What the process records in task_runs.worker (`<hostname>:<pid>`). */
  workerId: string;
  counts: LogCounts;
  /** The last 8,000 characters it wrote that were not JSON log lines (stderr, banner), for failure messages. */
  tail(): string;
  /** SIGKILL to the process only (what a crash does); resolves once it is gone. */
  crash(): Promise<void>;
  /** SIGTERM to the group, then SIGKILL to the group after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
// Last resort when the benchmark itself dies or is interrupted: no group outlives it (the
// database and Redis keys of an interrupted run are left behind).
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    process.exit(130);
  });
}

/** Signals every process of the group `child` leads (the group may outlive its leader). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: nothing of the group is left.
  }
}

function countLine(counts: LogCounts, line: string): boolean {
  if (!line.startsWith('{')) return false;
  let entry: { msg?: string; level?: number; eventId?: string; runId?: string; count?: number; sweep?: Record<string, number> };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    return false;
  }
  if (entry.msg === 'event matched' && entry.eventId) counts.eventMatched.set(entry.eventId, (counts.eventMatched.get(entry.eventId) ?? 0) + 1);
  else if (entry.msg === 'run finished' && entry.runId) counts.runFinished.set(entry.runId, (counts.runFinished.get(entry.runId) ?? 0) + 1);
  else if (entry.msg === 're-enqueued events that never reached the queue') counts.swept.events = (counts.swept.events ?? 0) + (entry.count ?? 0);
  else if (entry.msg === 'run sweeper repaired runs') for (const [k, n] of Object.entries(entry.sweep ?? {})) counts.swept[k] = (counts.swept[k] ?? 0) + n;
  if ((entry.level ?? 0) >= 50 && counts.errors.length < 50) counts.errors.push(line);
  return true;
}

/**
 * Starts `eventops serve --role <roles> --config <config>` with `env` (and PATH, HOME) and resolves
 * once its banner says where it listens; `nodeArgs` go before the script (e.g. --cpu-prof).
 */
export async function startServe(options: { name: string; roles: string; config: string; env: Record<string, string>; nodeArgs?: readonly string[]; timeoutMs?: number }): Promise<ServeProcess> {
  const args = [...(options.nodeArgs ?? []), join(ROOT, 'bin/eventops.js'), 'serve', '--role', options.roles, '--config', options.config];
  const child = spawn(process.execPath, args, { cwd: ROOT, detached: true, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = once(child, 'exit').then(() => live.delete(child));
  const counts: LogCounts = { eventMatched: new Map(), runFinished: new Map(), swept: {}, errors: [] };
  let other = '';
  const keep = (line: string) => {
    other = `${other}${line}\n`.slice(-8_000);
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    if (!countLine(counts, line)) keep(line);
  });
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', keep);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let url: string | undefined;
  while (!url) {
    if (child.exitCode !== null) throw new Error(`${options.name} exited with ${child.exitCode}:\n${other}`);
    if (Date.now() > deadline) {
      killGroup(child, 'SIGKILL');
      throw new Error(`${options.name} did not start in time:\n${other}`);
    }
    url = /eventops is serving on (http:\/\/\S+)/.exec(other)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  const gone = async (ms: number) => {
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  };
  return {
    name: options.name,
    pid: child.pid as number,
    url,
    workerId: `${hostname()}:${child.pid}`,
    counts,
    tail: () => other,
    crash: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, 'SIGKILL');
      await gone(5_000);
    },
    stop: async (graceMs = 15_000) => {
      killGroup(child, 'SIGTERM');
      await gone(graceMs);
      // Anything it started that outlived it.
      killGroup(child, 'SIGKILL');
    },
  };
}
