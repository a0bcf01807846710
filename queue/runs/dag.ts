// The DAG of a run as pure transitions: given the pipeline's tasks and each task's state, which
// tasks start now, which are skipped or cancelled, and whether the run is over. No IO: the run
// engine calls `decide` while it holds the run's row lock, applies the decisions and commits,
// so every transition happens once (a join task whose two `needs` finish together starts once,
// because the second completion sees the first's).
//
// Rules (DESIGN.md §3.2): a task starts when every task it needs succeeded or was skipped by its
// own `if`; a need that failed, timed out, was cancelled or was skipped for any other reason
// skips it. `finally` tasks start once every main task has ended, whatever the outcome (also
// after cancel or timeout). A failed main or `finally` task fails the run; a stop (cancel,
// timeout) ends it as that stop.

export type TaskStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled' | 'timed_out' | 'waiting_approval';
export type RunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
export type Phase = 'tasks' | 'finally';
/** Why a task was skipped: its own `if` was false, or a task it needs did not succeed. */
export type SkipReason = 'condition' | 'dependency';
export type Stop = 'cancelled' | 'timed_out';

export interface PlanTask {
  name: string;
  phase: Phase;
  needs: readonly string[];
  if?: string;
}

export interface TaskState {
  status: TaskStatus;
  skipReason?: SkipReason | null;
}

export type Decision =
  | { kind: 'start'; task: string }
  | { kind: 'skip'; task: string; reason: SkipReason; message: string }
  | { kind: 'cancel'; task: string; message: string }
  | { kind: 'fail'; task: string; error: string }
  | { kind: 'finish'; status: Exclude<RunStatus, 'pending' | 'running'>; error?: string };

const TERMINAL: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'timed_out']);
const UNSUCCESSFUL: ReadonlySet<TaskStatus> = new Set(['failed', 'cancelled', 'timed_out']);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL.has(status);
}

/**
 * The decisions for this moment, in an order that can be applied one by one. `condition` tells
 * whether a ready task's `if` holds (it sees the states decided so far); it may throw, which
 * fails that task with the error's message.
 */
export function decide(plan: readonly PlanTask[], states: ReadonlyMap<string, TaskState>, stop: Stop | null, condition: (task: PlanTask, states: ReadonlyMap<string, TaskState>) => boolean): Decision[] {
  const work = new Map<string, TaskState>([...states].map(([name, state]) => [name, { ...state }]));
  const decisions: Decision[] = [];
  const set = (decision: Decision, state: TaskState) => {
    decisions.push(decision);
    work.set((decision as { task: string }).task, state);
  };
  const mainDone = () => plan.every((t) => t.phase !== 'tasks' || TERMINAL.has(statusOf(work, t.name)));

  for (let changed = true; changed; ) {
    changed = false;
    for (const task of plan) {
      if (statusOf(work, task.name) !== 'pending') continue;
      if (task.phase === 'tasks' && stop) {
        set({ kind: 'cancel', task: task.name, message: stop === 'timed_out' ? 'the run timed out before this task started' : 'the run was cancelled before this task started' }, { status: 'cancelled' });
        changed = true;
        continue;
      }
      if (task.phase === 'finally' && !mainDone()) continue;
      const needs = task.needs.map((n) => ({ name: n, state: work.get(n) ?? { status: 'pending' as TaskStatus } }));
      const blocker = needs.find((n) => UNSUCCESSFUL.has(n.state.status) || (n.state.status === 'skipped' && n.state.skipReason !== 'condition'));
      if (blocker) {
        set({ kind: 'skip', task: task.name, reason: 'dependency', message: `skipped: ${blocker.name} ${blocker.state.status === 'skipped' ? 'was skipped' : blocker.state.status.replace('_', ' ')}` }, { status: 'skipped', skipReason: 'dependency' });
        changed = true;
        continue;
      }
      if (!needs.every((n) => n.state.status === 'succeeded' || n.state.status === 'skipped')) continue;
      let holds = true;
      if (task.if !== undefined) {
        try {
          holds = condition(task, work);
        } catch (error) {
          set({ kind: 'fail', task: task.name, error: `if: ${error instanceof Error ? error.message : String(error)}` }, { status: 'failed' });
          changed = true;
          continue;
        }
      }
      if (holds) set({ kind: 'start', task: task.name }, { status: 'queued' });
      else set({ kind: 'skip', task: task.name, reason: 'condition', message: `skipped: if ${task.if} is false` }, { status: 'skipped', skipReason: 'condition' });
      changed = true;
    }
  }

  if (plan.every((t) => TERMINAL.has(statusOf(work, t.name)))) {
    const status = outcome(plan, work, stop);
    const failed = plan.filter((t) => UNSUCCESSFUL.has(statusOf(work, t.name)) && statusOf(work, t.name) !== 'cancelled');
    decisions.push({
      kind: 'finish',
      status,
      ...(status === 'failed' ? { error: `failed: ${failed.map((t) => `${t.name} (${statusOf(work, t.name).replace('_', ' ')})`).join(', ')}` } : {}),
      ...(status === 'cancelled' ? { error: 'cancelled' } : {}),
      ...(status === 'timed_out' ? { error: 'the run timed out' } : {}),
    });
  }
  return decisions;
}

/** What the run is or will be, as `run.status` shows it to `finally` tasks: a stop, else failed or succeeded so far. */
export function outcome(plan: readonly PlanTask[], states: ReadonlyMap<string, TaskState>, stop: Stop | null): Exclude<RunStatus, 'pending' | 'running'> {
  if (stop) return stop;
  const failed = plan.some((t) => {
    const status = statusOf(states, t.name);
    return status === 'failed' || status === 'timed_out' || status === 'cancelled';
  });
  return failed ? 'failed' : 'succeeded';
}

function statusOf(states: ReadonlyMap<string, TaskState>, name: string): TaskStatus {
  return states.get(name)?.status ?? 'pending';
}
