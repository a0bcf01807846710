// Where on GitHub a run's report goes, read from the event that started it: the repository, the
// commit (a push's `after`, a pull request's head, a check suite's or check run's head) and the
// pull request. A comment on a pull request names the PR but not its head: that is looked up
// when the report is written; a comment on an issue has no commit at all (no check run, but the
// issue gets the run's sticky comment). Pure.

export interface ReportTarget {
  owner: string;
  repo: string;
  /** The commit a check run goes on; absent for a comment (on a PR: looked up when reported; on an issue: none). */
  headSha?: string;
  /** The issue or pull request (the run's sticky comment goes there). */
  issueNumber?: number;
  /** Whether issueNumber is a pull request. */
  isPull?: boolean;
  /** The App installation the webhook came from (saves a look-up). */
  installationId?: number;
}

const ZERO_SHA = /^0{40}$/;

/** The target of a run started by this event, or undefined when it has no repository and commit, PR or issue to report on. */
export function reportTarget(event: { source: string; type: string; body: unknown }): ReportTarget | undefined {
  if (event.source !== 'github') return undefined;
  const body = asObject(event.body);
  const repository = asObject(body.repository);
  const fullName = typeof repository.full_name === 'string' ? repository.full_name : undefined;
  const [owner, repo] = fullName?.split('/') ?? [];
  if (!owner || !repo) return undefined;
  const installationId = typeof asObject(body.installation).id === 'number' ? (asObject(body.installation).id as number) : undefined;
  const base = { owner, repo, ...(installationId === undefined ? {} : { installationId }) };
  const sha = (value: unknown) => (typeof value === 'string' && /^[0-9a-f]{40}$/i.test(value) && !ZERO_SHA.test(value) ? value : undefined);
  switch (event.type) {
    case 'push': {
      const after = sha(body.after);
      return after ? { ...base, headSha: after } : undefined;
    }
    case 'pull_request':
    case 'pull_request_review':
    case 'pull_request_review_comment':
    case 'pull_request_target': {
      const pr = asObject(body.pull_request);
      const head = sha(asObject(pr.head).sha);
      if (!head) return undefined;
      return { ...base, headSha: head, ...(typeof pr.number === 'number' ? { issueNumber: pr.number, isPull: true } : {}) };
    }
    case 'check_suite': {
      const head = sha(asObject(body.check_suite).head_sha);
      return head ? { ...base, headSha: head } : undefined;
    }
    case 'check_run': {
      const head = sha(asObject(body.check_run).head_sha);
      return head ? { ...base, headSha: head } : undefined;
    }
    case 'issue_comment':
    case 'issues': {
      const issue = asObject(body.issue);
      if (typeof issue.number !== 'number') return undefined;
      // Only pull requests have a commit to put a check run on (looked up when reported).
      return { ...base, issueNumber: issue.number, isPull: issue.pull_request !== undefined };
    }
    default:
      return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
