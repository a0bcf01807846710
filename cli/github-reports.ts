// The GitHub side of `eventops serve`, built from the configuration: the API client (App or
// token, secrets read from the secret store), the run reporter behind `report-run` jobs, and
// which run changes enqueue those jobs. Without `github.appId`/`github.token` nothing is built
// and no report job is ever enqueued.
import type { Config, SecretStore } from '../config/index.js';
import { createGithubClient, createRunReporter, type GithubClient, type RunReporter } from '../github/index.js';
import type { Job } from '../queue/index.js';
import { sanitizeUrl } from '../reconciler/index.js';
import type { Db, RunRow } from '../schemas/database/index.js';

export interface GithubSide {
  client: GithubClient;
  reporter: RunReporter;
  /** The report jobs of a run whose status is now `run.status`. */
  reportJobs(run: Pick<RunRow, 'id' | 'status'>): Job[];
}

/** Undefined when GitHub's API is not configured. Throws, naming the secret, when a configured secret is unset. */
export function createGithubSide(config: Config, deps: { db: Db; secrets: SecretStore }): GithubSide | undefined {
  const github = config.github;
  if (!github) return undefined;
  const need = (name: string, what: string) => {
    const value = deps.secrets.get(name);
    if (value === undefined) throw new Error(`github: the ${what} secret ${name} is not set (EVENTOPS_SECRET_${name.toUpperCase()}, or a file in secrets.dir)`);
    return value;
  };
  const auth = 'tokenSecret' in github.auth ? { token: need(github.auth.tokenSecret, 'token') } : { appId: github.auth.appId, privateKey: need(github.auth.privateKeySecret, 'App private key') };
  const client = createGithubClient({ auth, ...(github.apiUrl ? { apiUrl: github.apiUrl } : {}) });
  const reporter = createRunReporter({
    db: deps.db,
    client,
    ...(config.server.publicUrl ? { publicUrl: config.server.publicUrl } : {}),
    repoPath: (source, owner, repo, file) => {
      const s = config.sources.find((c) => c.name === source);
      if (!s || s.type !== 'git' || typeof s.url !== 'string') return undefined;
      const url = sanitizeUrl(s.url).toLowerCase().replace(/\.git$/, '').replace(/\/+$/, '');
      if (!url.endsWith(`/${owner}/${repo}`.toLowerCase())) return undefined;
      // Definition files are recorded by their path in the repository (the source's `dir` included).
      return file;
    },
  });
  return {
    client,
    reporter,
    reportJobs: (run) => (github.checks ? [{ queue: 'reports', job: 'report-run', payload: { runId: run.id, status: run.status } }] : []),
  };
}
