// How each actuator type's spec becomes a runner: the composition root's table of runner kinds.
// Secret references in a spec are resolved here (as the actuator's own source may use them), so
// runners receive values and never see the secret store.
import type { RunnerKind, RunnerType } from '../queue/index.js';
import { createLocalRunner, type AgentHub, type Runner } from '../runners/index.js';

export interface RunnerKindsOptions {
  /** Parent of local work folders. */
  workRoot: string;
  /** This process, as recorded in container labels. */
  workerId: string;
  /** The agents connected to this process. */
  agents: AgentHub;
}

export function runnerKinds(options: RunnerKindsOptions): Partial<Record<RunnerType, RunnerKind<never>>> {
  // One local runner serves every local actuator: it holds nothing between attempts.
  let local: Runner | undefined;
  const kinds = {
    local: kind({
      settings: () => ({}),
      create: () => (local ??= createLocalRunner({ workRoot: options.workRoot })),
    }),
    // The token is checked when the agent connects; running needs only its id.
    agent: kind({
      settings: (spec) => ({ id: spec.agent!.id }),
      create: (settings) => options.agents.runner(settings.id),
    }),
  };
  return kinds;
}

/** Types a kind by its settings, then forgets them for the table (the registry only hashes them). */
function kind<S>(k: RunnerKind<S>): RunnerKind<never> {
  return k as unknown as RunnerKind<never>;
}
