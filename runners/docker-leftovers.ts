// The docker runner's start-up cleanup: containers that a runner which died (a crashed worker, a
// killed agent) left on the Docker host. Only containers labelled as managed by eventops are
// looked at, and only those that certainly belong to nobody any more are removed: stopped ones,
// running ones past their deadline, and (with the run engine's word on ownership) running ones
// whose attempt no live worker owns, so a retry never runs beside its orphan. Each API call
// goes through the caller's `call`, which gives it its deadline.
import type Docker from 'dockerode';
import type { AttemptKey, AttemptOwnership } from './runner.js';
import { statusOf } from './docker-connection.js';
import { DOCKER_LABELS } from './docker-labels.js';

/** Runs one Docker API call (`what` names it for messages) with its deadline; `signal` goes to dockerode. */
export type DockerCall = <T>(what: string, call: (signal: AbortSignal) => Promise<T>) => Promise<T>;

const direct: DockerCall = (_what, call) => call(new AbortController().signal);

/**
 * Removes managed containers stopped (or never started) for `ageMs` or more, and running ones more
 * than `ageMs` past their deadline. Returns their names. Containers without the managed label are
 * never touched.
 */
export async function removeLeftovers(docker: Docker, ageMs: number, api: DockerCall = direct): Promise<string[]> {
  const now = Date.now();
  const containers = await api('list the managed containers', (signal) => docker.listContainers({ all: true, filters: { label: [`${DOCKER_LABELS.managed}=true`] }, abortSignal: signal }));
  const removed: string[] = [];
  for (const info of containers) {
    if (info.Labels?.[DOCKER_LABELS.managed] !== 'true') continue;
    if (!(await isLeftover(docker, info, now, ageMs, api))) continue;
    try {
      await api('remove a leftover container', (signal) => docker.getContainer(info.Id).remove({ force: true, abortSignal: signal }));
      removed.push((info.Names?.[0] ?? info.Id.slice(0, 12)).replace(/^\//, ''));
    } catch (error) {
      // Gone already, or being removed by someone else.
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
    }
  }
  return removed;
}

async function isLeftover(docker: Docker, info: Docker.ContainerInfo, now: number, ageMs: number, api: DockerCall): Promise<boolean> {
  switch (info.State) {
    case 'running':
    case 'paused':
    case 'restarting': {
      const deadline = info.Labels?.[DOCKER_LABELS.deadline];
      return deadline !== undefined && /^\d+$/.test(deadline) && Number(deadline) + ageMs <= now;
    }
    case 'created':
      return now - info.Created * 1000 >= ageMs;
    case 'exited':
    case 'dead': {
      if (ageMs <= 0) return true;
      try {
        const finished = Date.parse((await api('inspect a leftover container', (signal) => docker.getContainer(info.Id).inspect({ abortSignal: signal }))).State.FinishedAt);
        return Number.isFinite(finished) && now - finished >= ageMs;
      } catch (error) {
        if (statusOf(error) === 404) return false;
        throw error;
      }
    }
    default:
      // `removing`, or a state this runner does not know: not its to touch.
      return false;
  }
}

/** A container stopped because no live attempt owns it any more. */
export interface Orphan {
  attempt: AttemptKey;
  /** `container <name>`, for log lines. */
  what: string;
}

/**
 * Stops and removes managed containers still running for an attempt that `ownership` says no
 * live worker owns (its server was killed: its lease ran out, or a later attempt replaced it),
 * and says so in that attempt's log. Containers without the managed label, or whose labels do not
 * name an attempt, are never touched.
 */
export async function stopOrphans(docker: Docker, ownership: AttemptOwnership, api: DockerCall = direct): Promise<Orphan[]> {
  const containers = await api('list the running managed containers', (signal) =>
    docker.listContainers({ filters: { label: [`${DOCKER_LABELS.managed}=true`], status: ['created', 'running', 'paused', 'restarting'] }, abortSignal: signal }),
  );
  const stopped: Orphan[] = [];
  for (const info of containers) {
    const labels = info.Labels ?? {};
    const runId = labels[DOCKER_LABELS.run];
    const task = labels[DOCKER_LABELS.task];
    const attemptText = labels[DOCKER_LABELS.attempt];
    if (labels[DOCKER_LABELS.managed] !== 'true' || !runId || !task || !attemptText || !/^\d+$/.test(attemptText)) continue;
    const attempt = { runId, task, attempt: Number(attemptText) };
    if (await ownership.owned(attempt)) continue;
    try {
      await api('remove an orphaned container', (signal) => docker.getContainer(info.Id).remove({ force: true, abortSignal: signal }));
    } catch (error) {
      // Gone already, or being removed by its own runner.
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
      continue;
    }
    const orphan = { attempt, what: `container ${(info.Names?.[0] ?? info.Id.slice(0, 12)).replace(/^\//, '')}` };
    await ownership.stopped(attempt, orphan.what);
    stopped.push(orphan);
  }
  return stopped;
}
