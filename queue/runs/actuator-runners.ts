// One runner per actuator, so what a runner holds (an SSH connection, a Docker or Kubernetes
// client, an agent's channel) is reused by every task that runs there. A runner is built from the
// actuator's spec with its secrets resolved (as the actuator's own source may use them) and is
// kept while that spec and those values stay the same; when either changes (a new revision, a
// rotated key) the next task gets a new runner and the old one is closed once its last task ended.
import { createHash } from 'node:crypto';
import type { Runner } from '../../runners/index.js';
import type { Actuator } from '../../schemas/index.js';
import { actuatorType, type ActuatorChoice, type RunnerType } from './pick-actuator.js';

/** How to build runners of one actuator type. */
export interface RunnerKind<Settings> {
  /** The runner's settings from the actuator's spec; `secret` resolves a reference (throws when it may not be used or is unset). */
  settings(spec: Actuator['spec'], secret: (name: string) => string, choice: ActuatorChoice): Settings;
  create(settings: Settings, choice: ActuatorChoice): Runner;
}

export interface ActuatorRunnersDeps {
  // Each kind has its own settings type; the registry only hashes and hands them back.
  kinds: Partial<Record<RunnerType, RunnerKind<never>>>;
  /** A secret's value for a definition of `source`; throws when the source may not use it or it is unset. */
  secret(source: string, name: string): string;
}

export interface ActuatorRunners {
  /** Runs `work` with the actuator's runner; rejects with a message for people when there is none. */
  use<T>(choice: ActuatorChoice, work: (runner: Runner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

interface Entry {
  fingerprint: string;
  runner: Runner;
  active: number;
  retired: boolean;
}

export function createActuatorRunners(deps: ActuatorRunnersDeps): ActuatorRunners {
  const entries = new Map<string, Entry>();
  const retire = (entry: Entry) => {
    entry.retired = true;
    if (entry.active === 0) void entry.runner.close().catch(() => undefined);
  };
  let closed = false;
  return {
    async use(choice, work) {
      if (closed) throw new Error('the runners are closed');
      const type = actuatorType(choice.actuator);
      const kind = type === undefined ? undefined : (deps.kinds[type] as RunnerKind<unknown> | undefined);
      if (!type || !kind) throw new Error(`${type ?? 'this'} actuators cannot run tasks in this version of eventops (no ${type ?? ''} runner)`);
      const settings = kind.settings(choice.actuator.spec, (name) => deps.secret(choice.source, name), choice);
      // Secrets take part in the fingerprint only as a hash, which is kept in memory only.
      const fingerprint = createHash('sha256').update(JSON.stringify(settings) ?? '').digest('hex');
      let entry = entries.get(choice.key);
      if (!entry || entry.fingerprint !== fingerprint) {
        if (entry) retire(entry);
        entry = { fingerprint, runner: kind.create(settings, choice), active: 0, retired: false };
        entries.set(choice.key, entry);
      }
      const held = entry;
      held.active++;
      try {
        return await work(held.runner);
      } finally {
        held.active--;
        if (held.retired) retire(held);
      }
    },
    async close() {
      closed = true;
      const all = [...entries.values()];
      entries.clear();
      await Promise.all(all.map((entry) => entry.runner.close().catch(() => undefined)));
    },
  };
}
