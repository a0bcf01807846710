// The scale benchmark's verdicts on one phase, read from PostgreSQL directly, from the processes'
// log lines and from the file the tasks append to: every event matched once with exactly one run,
// every run succeeded and finished once, every task's completion recorded once (by the attempt
// that is current), every task really executed (at least once — a retry after a crash may run it
// again, which is allowed and counted) and `second` only after `first`.
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { LogCounts } from './processes.js';

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

export interface PhaseFacts {
  checks: Check[];
  /** Tasks whose recorded attempt is not the first (taken over after a lost lease, or retried). */
  retriedTasks: number;
  /** (run, task) pairs the file shows executed more than once. */
  executedTwice: number;
  /** Lines in the executions file for this phase's runs. */
  executions: number;
  /** task_runs.worker of the recorded attempt → tasks. */
  tasksByWorker: Record<string, number>;
  /** Earlier attempts kept in task_runs.attempts, by their error. */
  lostAttempts: Record<string, number>;
}

const TASKS = ['first', 'second'] as const;

const sum = (maps: readonly Map<string, number>[], key: string) => maps.reduce((n, m) => n + (m.get(key) ?? 0), 0);

function sample(ids: readonly string[]): string {
  return ids.length === 0 ? '' : ` (e.g. ${ids.slice(0, 3).join(', ')})`;
}

/** Every check of one phase: `eventIds` are the events it sent, `logs` every process' counts, `executionsFile` the tasks' file. */
export async function checkPhase(client: pg.Client, eventIds: readonly string[], logs: readonly LogCounts[], executionsFile: string): Promise<PhaseFacts> {
  const checks: Check[] = [];
  const n = eventIds.length;

  const { rows: evs } = await client.query<{ id: string; status: string; runs: number }>(
    `select e.id, e.status, (select count(*)::int from runs r where r.event_id = e.id and r.parent_run_id is null) as runs from events e where e.id = any($1)`,
    [eventIds],
  );
  const unmatched = evs.filter((e) => e.status !== 'matched').map((e) => `${e.id}=${e.status}`);
  checks.push({ name: 'every event stored and matched', pass: evs.length === n && unmatched.length === 0, detail: `${evs.length} of ${n} stored, ${evs.length - unmatched.length} matched${sample(unmatched)}` });
  const notOnce = eventIds.filter((id) => sum(logs.map((l) => l.eventMatched), id) !== 1);
  checks.push({ name: 'every event matched exactly once (one "event matched" log line each)', pass: notOnce.length === 0, detail: `${n - notOnce.length} of ${n} once${sample(notOnce.map((id) => `${id}×${sum(logs.map((l) => l.eventMatched), id)}`))}` });
  const badRuns = evs.filter((e) => e.runs !== 1).map((e) => `${e.id}:${e.runs} runs`);
  checks.push({ name: 'every event started exactly one run', pass: evs.length === n && badRuns.length === 0, detail: `${evs.length - badRuns.length} of ${n}${sample(badRuns)}` });

  const { rows: rs } = await client.query<{ id: string; status: string; finished: boolean }>(`select id, status, finished_at is not null as finished from runs where event_id = any($1) and parent_run_id is null`, [eventIds]);
  const runIds = rs.map((r) => r.id);
  const notSucceeded = rs.filter((r) => r.status !== 'succeeded' || !r.finished).map((r) => `${r.id}=${r.status}`);
  checks.push({ name: 'every run final and succeeded', pass: rs.length === n && notSucceeded.length === 0, detail: `${rs.length - notSucceeded.length} of ${n} succeeded${sample(notSucceeded)}` });
  const finishedNotOnce = runIds.filter((id) => sum(logs.map((l) => l.runFinished), id) !== 1);
  checks.push({ name: 'every run finished exactly once (one "run finished" log line each)', pass: finishedNotOnce.length === 0, detail: `${runIds.length - finishedNotOnce.length} of ${runIds.length} once${sample(finishedNotOnce.map((id) => `${id}×${sum(logs.map((l) => l.runFinished), id)}`))}` });

  const { rows: ts } = await client.query<{ run_id: string; name: string; status: string; attempt: number; worker: string | null; attempts: { attempt: number; status: string; error: string | null }[] }>(
    `select run_id, name, status, attempt, worker, attempts from task_runs where run_id = any($1)`,
    [runIds],
  );
  const tasksOf = new Map<string, number>();
  for (const t of ts) tasksOf.set(t.run_id, (tasksOf.get(t.run_id) ?? 0) + 1);
  const wrongCount = runIds.filter((id) => tasksOf.get(id) !== TASKS.length);
  const notDone = ts.filter((t) => t.status !== 'succeeded').map((t) => `${t.run_id}/${t.name}=${t.status}`);
  checks.push({ name: 'every (run, task) succeeded: one task row each', pass: wrongCount.length === 0 && notDone.length === 0 && ts.length === runIds.length * TASKS.length, detail: `${ts.length - notDone.length} of ${runIds.length * TASKS.length} succeeded${sample([...wrongCount.map((id) => `${id}: ${tasksOf.get(id) ?? 0} task rows`), ...notDone])}` });
  // A completion recorded twice would leave an earlier attempt recorded as succeeded behind the current one.
  const twice = ts.filter((t) => t.attempts.some((a) => a.status === 'succeeded') || t.attempts.length !== t.attempt - 1).map((t) => `${t.run_id}/${t.name}: attempt ${t.attempt}, history ${t.attempts.map((a) => `${a.attempt}:${a.status}`).join(' ')}`);
  checks.push({ name: 'every task completion recorded once (only the current attempt succeeded; earlier attempts lost or failed)', pass: twice.length === 0, detail: `${ts.length - twice.length} of ${ts.length}${sample(twice)}` });

  // The file: `<runId> <task> <attempt>` per real execution, in the order they happened.
  const wanted = new Set(runIds);
  /** `<run>/<task>` → the attempts executed, and `<run>/<task>/<attempt>` → its line number. */
  const executed = new Map<string, number[]>();
  const lineOf = new Map<string, number>();
  let lines = 0;
  for (const [i, line] of readFileSync(executionsFile, 'utf8').split('\n').entries()) {
    const [runId, task, attempt] = line.split(' ');
    if (!runId || !task || !wanted.has(runId)) continue;
    lines++;
    executed.set(`${runId}/${task}`, [...(executed.get(`${runId}/${task}`) ?? []), Number(attempt)]);
    if (!lineOf.has(`${runId}/${task}/${attempt}`)) lineOf.set(`${runId}/${task}/${attempt}`, i);
  }
  const recordedNotRun = ts.filter((t) => !lineOf.has(`${t.run_id}/${t.name}/${t.attempt}`)).map((t) => `${t.run_id}/${t.name} attempt ${t.attempt}`);
  checks.push({ name: 'every recorded completion really executed (its attempt is in the executions file)', pass: recordedNotRun.length === 0, detail: `${ts.length - recordedNotRun.length} of ${ts.length}${sample(recordedNotRun)}` });
  // Every execution of `second` comes after the execution of `first` whose completion was recorded.
  const recorded = new Map(ts.map((t) => [`${t.run_id}/${t.name}`, t.attempt]));
  const outOfOrder = runIds.filter((id) => {
    const first = lineOf.get(`${id}/first/${recorded.get(`${id}/first`)}`);
    const seconds = (executed.get(`${id}/second`) ?? []).map((a) => lineOf.get(`${id}/second/${a}`) as number);
    return first === undefined || seconds.length === 0 || seconds.some((s) => s < first);
  });
  checks.push({ name: '`second` executed only after the recorded `first` (needs)', pass: outOfOrder.length === 0, detail: `${runIds.length - outOfOrder.length} of ${runIds.length}${sample(outOfOrder)}` });

  const tasksByWorker: Record<string, number> = {};
  const lostAttempts: Record<string, number> = {};
  for (const t of ts) {
    tasksByWorker[t.worker ?? 'none'] = (tasksByWorker[t.worker ?? 'none'] ?? 0) + 1;
    for (const a of t.attempts) {
      const why = (a.error ?? a.status).replace(/\d+/g, 'N').slice(0, 80);
      lostAttempts[why] = (lostAttempts[why] ?? 0) + 1;
    }
  }
  return {
    checks,
    retriedTasks: ts.filter((t) => t.attempt > 1).length,
    executedTwice: [...executed.values()].filter((a) => a.length > 1).length,
    executions: lines,
    tasksByWorker,
    lostAttempts,
  };
}
