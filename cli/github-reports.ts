// The GitHub side of `eventops serve`, built from the configuration: the API client (App or
// token, secrets read from the secret store), the run reporter behind `report-run` jobs and
// which run changes enqueue those jobs, the permission look-up of comment commands, and the
// answers to comments (`answer-comment`). Without `github.appId`/`github.token` nothing is
// built and no report job is ever enqueued.
import type { Config, SecretStore } from '../config/index.js';
import { createCommentCommands, createGithubClient, createPermissionLookup, createRunReporter, meetsPermission, type CommentCommands, type CommentCommandsDeps, type GithubClient, type GithubClientOptions, type PermissionLookup, type RunReporter } from '../github/index.js';
import type { Job } from '../queue/index.js';
import type { EventRow } from '../schemas/database/index.js';
import { sanitizeUrl } from '../reconciler/index.js';
import type { Db, RunRow } from '../schemas/database/index.js';

export interface GithubSide {
  client: GithubClient;
  reporter: RunReporter;
  /** The report jobs of a run that is now at `run.version`. */
  reportJobs(run: Pick<RunRow, 'id' | 'version'>): Job[];
  permissions: PermissionLookup;
  /** For matching: undefined when the commenter of `event` has permission `need`, else why not. */
  checkPermission(event: EventRow, need: string): Promise<string | undefined>;
  /** The answers to comment commands, once the engine exists. */
  commentCommands(deps: Pick<CommentCommandsDeps, 'definitions' | 'engine' | 'startRuns'>): CommentCommands;
}

/** Undefined when GitHub's API is not configured. Throws, naming the secret, when a configured secret is unset. */
export function createGithubSide(config: Config, deps: { db: Db; secrets: SecretStore; onRequest?: GithubClientOptions['onRequest'] }): GithubSide | undefined {
  const github = config.github;
  if (!github) return undefined;
  const need = (name: string, what: string) => {
    const value = deps.secrets.get(name);
    if (value === undefined) throw new Error(`github: the ${what} secret ${name} is not set (EVENTOPS_SECRET_${name.toUpperCase()}, or a file in secrets.dir)`);
    return value;
  };
  const auth = 'tokenSecret' in github.auth ? { token: need(github.auth.tokenSecret, 'token') } : { appId: github.auth.appId, privateKey: need(github.auth.privateKeySecret, 'App private key') };
  const client = createGithubClient({ auth, ...(github.apiUrl ? { apiUrl: github.apiUrl } : {}), ...(deps.onRequest ? { onRequest: deps.onRequest } : {}) });
  const sourcesOfRepo = (owner: string, repo: string) =>
    config.sources
      .filter((s) => s.type === 'git' && typeof s.url === 'string' && sanitizeUrl(s.url).toLowerCase().replace(/\.git$/, '').replace(/\/+$/, '').endsWith(`/${owner}/${repo}`.toLowerCase()))
      .map((s) => s.name);
  const reporter = createRunReporter({
    db: deps.db,
    client,
    checks: github.checks,
    ...(config.server.publicUrl ? { publicUrl: config.server.publicUrl } : {}),
    // Definition files are recorded by their path in the repository (the source's `dir` included).
    repoPath: (source, owner, repo, file) => (sourcesOfRepo(owner, repo).includes(source) ? file : undefined),
  });
  const permissions = createPermissionLookup(client);
  return {
    client,
    reporter,
    permissions,
    // Every run is reported (a run of an issue may get a sticky comment even with checks off).
    reportJobs: (run) => [{ queue: 'reports', job: 'report-run', payload: { runId: run.id, version: run.version } }],
    async checkPermission(event, need) {
      const body = event.body as { repository?: { full_name?: string }; comment?: { user?: { login?: string } }; installation?: { id?: number } } | null;
      const [owner, repo] = body?.repository?.full_name?.split('/') ?? [];
      const user = body?.comment?.user?.login;
      if (!owner || !repo || !user) return `the comment's repository or author is not in the event, so ${need} permission cannot be checked`;
      const have = await permissions.permissionOf(owner, repo, user, body?.installation?.id);
      return meetsPermission(have, need) ? undefined : `the command needs ${need} permission on ${owner}/${repo}; @${user} has ${have}`;
    },
    commentCommands: (more) => createCommentCommands({ db: deps.db, client, permissions, sourcesOfRepo, ...more }),
  };
}
