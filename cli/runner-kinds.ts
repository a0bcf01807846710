// How each actuator type's spec becomes a runner: the composition root's table of runner kinds.
// Secret references in a spec are resolved here (as the actuator's own source may use them), so
// runners receive values and never see the secret store. The SSH, Docker and Kubernetes clients
// are loaded on first use: a server with only local actuators never loads them.
import type { RunnerKind, RunnerType } from '../queue/index.js';
import { createLocalRunner, type AgentHub, type AttemptOwnership, type Runner } from '../runners/index.js';
import type { DockerRunnerOptions } from '../runners/docker-runner.js';
import type { KubernetesRunnerOptions } from '../runners/kubernetes-runner.js';
import type { SshRunnerOptions } from '../runners/ssh-runner.js';

export interface RunnerKindsOptions {
  /** Parent of local work folders. */
  workRoot: string;
  /** This process, as recorded in container labels. */
  workerId: string;
  /** The agents connected to this process. */
  agents: AgentHub;
  /** Deadline of each Docker API call (limits.docker.apiTimeoutMs); the runner's default without it. */
  dockerApiTimeoutMs?: number;
  /** Whether a live worker owns an attempt: docker and ssh runners stop work of attempts nobody owns. */
  ownership?: AttemptOwnership;
}

export function runnerKinds(options: RunnerKindsOptions): Partial<Record<RunnerType, RunnerKind<never>>> {
  // One local runner serves every local actuator: it holds nothing between attempts.
  let local: Runner | undefined;
  return {
    local: kind({
      settings: () => ({}),
      create: () => (local ??= createLocalRunner({ workRoot: options.workRoot })),
    }),
    ssh: kind<SshRunnerOptions>({
      settings: (spec, secret) => {
        const ssh = spec.ssh!;
        return {
          host: ssh.host,
          user: ssh.user,
          ...(ssh.port !== undefined ? { port: ssh.port } : {}),
          ...(ssh.privateKey ? { privateKey: secret(ssh.privateKey.secret) } : {}),
          ...(ssh.passphrase ? { passphrase: secret(ssh.passphrase.secret) } : {}),
          ...(ssh.password ? { password: secret(ssh.password.secret) } : {}),
          ...(ssh.hostKey !== undefined ? { hostKey: ssh.hostKey } : {}),
        };
      },
      create: (settings) => lazyRunner('ssh', async () => (await import('../runners/ssh-runner.js')).createSshRunner({ ...settings, ...(options.ownership ? { ownership: options.ownership } : {}) })),
    }),
    docker: kind<DockerRunnerOptions>({
      settings: (spec, secret) => {
        const docker = spec.docker!;
        const tls = docker.tls;
        return {
          workerId: options.workerId,
          ...(options.dockerApiTimeoutMs !== undefined ? { apiTimeoutMs: options.dockerApiTimeoutMs } : {}),
          ...(docker.host !== undefined ? { host: docker.host } : {}),
          ...(tls ? { tls: { ...(tls.ca ? { ca: secret(tls.ca.secret) } : {}), ...(tls.cert ? { cert: secret(tls.cert.secret) } : {}), ...(tls.key ? { key: secret(tls.key.secret) } : {}) } } : {}),
          ...(docker.ssh ? { ssh: { ...(docker.ssh.privateKey ? { privateKey: secret(docker.ssh.privateKey.secret) } : {}), ...(docker.ssh.password ? { password: secret(docker.ssh.password.secret) } : {}) } } : {}),
        };
      },
      // Ownership is a function, so it is given here rather than in the settings the registry hashes.
      create: (settings) => lazyRunner('docker', async () => (await import('../runners/docker-runner.js')).createDockerRunner({ ...settings, ...(options.ownership ? { ownership: options.ownership } : {}) })),
    }),
    kubernetes: kind<KubernetesRunnerOptions>({
      settings: (spec, secret) => {
        const k8s = spec.kubernetes!;
        return {
          workerId: options.workerId,
          ...(k8s.kubeconfig ? { kubeconfig: secret(k8s.kubeconfig.secret) } : {}),
          ...(k8s.inCluster ? { inCluster: true } : {}),
          ...(k8s.context !== undefined ? { context: k8s.context } : {}),
          ...(k8s.namespace !== undefined ? { namespace: k8s.namespace } : {}),
        };
      },
      create: (settings) => lazyRunner('kubernetes', async () => (await import('../runners/kubernetes-runner.js')).createKubernetesRunner(settings)),
    }),
    // The token is checked when the agent connects; running needs only its id.
    agent: kind({
      settings: (spec) => ({ id: spec.agent!.id }),
      create: (settings) => options.agents.runner(settings.id),
    }),
  };
}

/** Types a kind by its settings, then forgets them for the table (the registry only hashes them). */
function kind<S>(k: RunnerKind<S>): RunnerKind<never> {
  return k as unknown as RunnerKind<never>;
}

/** A runner whose module is imported when its first task runs. */
function lazyRunner(type: Runner['type'], load: () => Promise<Runner>): Runner {
  let loaded: Promise<Runner> | undefined;
  return {
    type,
    run: async (execution, io) => (await (loaded ??= load())).run(execution, io),
    reap: async () => {
      const runner = await (loaded ??= load());
      return runner.reap ? runner.reap() : [];
    },
    close: async () => {
      if (loaded) await (await loaded).close();
    },
  };
}
