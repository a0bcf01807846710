// The docker runner's start-up cleanup: containers that a runner which died (a crashed worker, a
// killed agent) left on the Docker host. Only containers labelled as managed by eventops are
// looked at, and only those that certainly belong to nobody any more are removed. Each API call
// goes through the caller's `call`, which gives it its deadline.
import type Docker from 'dockerode';
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
