// The definitions check in `eventops serve`: which matched events enqueue a `check-definitions`
// job (a GitHub push or pull request to a configured git source's repository) and the job's
// handler (github/definitions-check.ts over the reconciler's revision checker, with its own git
// caches under `<dataDir>/checks`). Built only when GitHub's API is configured with `checks` on
// and some source is a git repository; otherwise nothing is enqueued.
import { and, eq, inArray } from 'drizzle-orm';
import type { Config, SecretStore } from '../config/index.js';
import { createDefinitionsCheck, type GithubClient } from '../github/index.js';
import { eventopsCatalog, type JobContext, type Job } from '../queue/index.js';
import { createRevisionChecker } from '../reconciler/index.js';
import { events, type Db } from '../schemas/database/index.js';

export interface DefinitionChecks {
  /** Enqueues the check of this stored event when it gets one (idempotent: the job id is the event's). */
  enqueueFor(eventId: string): Promise<void>;
  /** The `check-definitions` handler. */
  run(eventId: string, ctx: JobContext): Promise<void>;
}

/** Undefined when there is nothing to check: no GitHub API, `github.checks: false`, or no git source. */
export function createDefinitionChecks(config: Config, deps: { db: Db; client: GithubClient | undefined; secrets: SecretStore; enqueue: (jobs: readonly Job[]) => Promise<void> }): DefinitionChecks | undefined {
  const gitSources = config.sources.filter((s) => s.type === 'git');
  if (!deps.client || !config.github?.checks || gitSources.length === 0) return undefined;
  const { db } = deps;
  const check = createDefinitionsCheck({ db, client: deps.client, sources: gitSources, checker: createRevisionChecker({ dataDir: config.dataDir, secrets: deps.secrets, yaml: config.limits.yaml, gitLimits: config.limits.git }) });
  const attempts = eventopsCatalog.reports['check-definitions'].attempts;
  return {
    async enqueueFor(eventId) {
      const [event] = await db
        .select({ source: events.source, type: events.type, action: events.action, body: events.body })
        .from(events)
        .where(and(eq(events.id, eventId), eq(events.source, 'github'), inArray(events.type, ['push', 'pull_request'])));
      if (!event || !check.targetOf(event)) return;
      await deps.enqueue([{ queue: 'reports', job: 'check-definitions', payload: { eventId } }]);
    },
    run: (eventId, ctx) => check.run(eventId, { final: ctx.attempt >= attempts, signal: ctx.signal }),
  };
}
