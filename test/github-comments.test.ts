// Comment commands (issueops) end to end: GitHub's published issue_comment example payloads,
// signed and replayed through /webhooks/github of a real `eventops serve` process, with the
// commenter's permission looked up on a fake GitHub API (a real HTTP server that records every
// call). A reader's `/deploy` is refused (😕 and a reply, no run); a writer's runs (👀, one sticky
// comment kept up to date); `/approve` lets the waiting approval task proceed; an unknown
// command is answered with the closest one; `/run` and `/cancel` act on runs.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGithubStack, webhookExample, type GithubStack, type Payload } from './helpers/github-stack.js';

const HEAD = 'c0ffee0123456789abcdef0123456789abcdef01';
const PR = 7;

const PIPELINES = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: deploy }
spec:
  inputs: [ { name: env, type: string, enum: [staging, prod], default: staging } ]
  tasks:
    - name: build
      env: { ENV: "\${{ inputs.env }}" }
      commands: [ 'echo "building for $ENV"' ]
    - name: gate
      type: approval
      needs: [build]
      approvers: [ "@wanda" ]
    - name: rollout
      needs: [gate]
      env: { BY: "\${{ tasks.gate.outputs.approvedBy }}" }
      commands: [ 'echo "rolled out, approved by $BY"' ]
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: hello }
spec:
  inputs: [ { name: who, type: string, required: true } ]
  tasks:
    - name: hi
      env: { WHO: "\${{ inputs.who }}" }
      commands: [ 'echo "hello $WHO"' ]
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: flaky }
spec:
  inputs: [ { name: mark, type: string, required: true } ]
  tasks:
    - name: test
      env: { MARK: "\${{ inputs.mark }}" }
      commands: [ 'if [ -e "$MARK" ]; then echo "passed this time"; else touch "$MARK"; echo "failed once"; exit 1; fi' ]
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: slow }
spec:
  tasks:
    - { name: wait, commands: [ "sleep 60" ] }
`;

const TRIGGERS = `apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: pr-tests }
spec:
  event: { source: github, type: pull_request.opened }
  pipelines: [ { name: flaky, inputs: { mark: "\${{ event.body.pull_request.title }}" } } ]
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: deploy-command }
spec:
  command: /deploy
  permission: write
  pipelines: [ { name: deploy, inputs: { env: staging } } ]
  report: { comment: on-command }
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: slow-command }
spec:
  command: /slow
  permission: write
  pipelines: [ { name: slow } ]
`;

describe('comment commands (issueops)', () => {
  let stack: GithubStack;
  let nextComment = 9_000_000;

  /** A new comment by `user` on the pull request, from GitHub's published example; resolves once matched. */
  const comment = async (user: string, text: string) => {
    const payload = webhookExample('issue_comment', 'created');
    delete payload.installation;
    const id = nextComment++;
    payload.repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops' };
    payload.issue = { ...(payload.issue as object), number: PR, pull_request: { url: 'https://api.github.invalid/repos/acme/ops/pulls/7' } };
    payload.comment = { ...(payload.comment as object), id, body: text, user: { ...((payload.comment as Payload).user as object), login: user, type: 'User' } };
    const event = await stack.deliver('issue_comment', payload);
    return { id, event };
  };
  const reactionsOf = (id: number) => stack.github.comments.find((c) => c.id === id)?.reactions ?? [];
  const replies = () => stack.github.comments.filter((c) => c.issue === PR && !c.body.startsWith('<!-- eventops'));
  const sticky = (pipeline: string) => stack.github.comments.filter((c) => c.body.startsWith(`<!-- eventops: pipeline ${pipeline} -->`));
  const runOf = (id: string) => stack.api<{ status: string; tasks: { name: string; status: string; outputs: Record<string, string> }[] }>(`/api/v1/runs/${id}`);

  beforeAll(async () => {
    stack = await startGithubStack({
      name: 'comments',
      files: { 'eventops/pipelines.yaml': PIPELINES, 'eventops/triggers.yaml': TRIGGERS },
      fake: { permissions: { rita: 'read', wanda: 'write', walt: 'write' }, pulls: { [`acme/ops#${PR}`]: { sha: HEAD, ref: 'feature' } } },
    });
  }, 90_000);

  afterAll(() => stack?.close(), 60_000);

  it('a reader\'s /deploy is refused: no run, 😕 and a reply saying why', async () => {
    const { id, event } = await comment('rita', 'please deploy\n/deploy');
    expect(event.runs).toEqual([]);
    expect(event.verdicts.find((v) => v.trigger === 'deploy-command')).toMatchObject({ verdict: 'refused', reason: 'the command needs write permission on acme/ops; @rita has read; no run started' });
    await stack.until('the refusal answered', () => replies().length, (n) => n === 1);
    expect(reactionsOf(id)).toEqual(['confused']);
    expect(replies()[0]!.body).toContain('`/deploy` refused: the command needs write permission on acme/ops; @rita has read');
    // The permission was looked up on GitHub, not read from author_association.
    expect(stack.github.requests.some((r) => r.path === '/repos/acme/ops/collaborators/rita/permission')).toBe(true);
  });

  it('a writer\'s /deploy runs, 👀, one sticky comment follows the run; /approve lets the approval task proceed', async () => {
    const { id, event } = await comment('wanda', '/deploy');
    expect(event.runs).toHaveLength(1);
    const runId = event.runs[0]!.id;
    // The run of a comment on a pull request is a check run on the PR's head (looked up).
    await stack.until('the check run on the head', () => stack.github.checkRuns.filter((r) => r.external_id === runId), (r) => r.length === 1 && r[0]!.head_sha === HEAD);
    await stack.until('the approval task waits', () => runOf(runId), (r) => r.tasks.some((t) => t.name === 'gate' && t.status === 'waiting_approval'));
    await stack.until('👀 on the comment', () => reactionsOf(id), (r) => r.includes('eyes'));
    const [first] = await stack.until('the sticky comment', () => sticky('deploy'), (c) => c.length === 1 && c[0]!.body.includes('waiting'));
    expect(first!.body).toContain('| gate | ✋ waiting approval |');

    const approval = await comment('wanda', 'LGTM\n/approve ship it');
    const done = await stack.until('the run ended', () => runOf(runId), (r) => !['pending', 'running'].includes(r.status));
    expect(done.status).toBe('succeeded');
    expect(done.tasks.find((t) => t.name === 'gate')!.outputs).toMatchObject({ approvedBy: 'wanda', comment: 'ship it' });
    await stack.until('👀 on the approval', () => reactionsOf(approval.id), (r) => r.includes('eyes'));
    // Still one comment for the pipeline, edited to the final state.
    const [last] = await stack.until('the sticky comment shows the end', () => sticky('deploy'), (c) => c.length === 1 && c[0]!.body.includes('✅ **eventops/deploy**'));
    expect(last!.id).toBe(first!.id);
    expect(last!.updates).toBeGreaterThan(0);
    expect(last!.body).toContain('| rollout | ✅ succeeded |');
  }, 60_000);

  it('an unknown command gets 😕 and a reply naming the closest command; /help lists them', async () => {
    const before = replies().length;
    const { id } = await comment('walt', '/deplyo now\n/help');
    await stack.until('the answer', () => replies().length, (n) => n === before + 1);
    const reply = replies().at(-1)!.body;
    expect(reply).toContain('`/deplyo`: unknown command (did you mean `/deploy`?)');
    expect(reply).toContain('`/run <pipeline> key=value…`');
    expect(reply).toContain('`/deploy` (write)');
    expect(reply.split('\n').some((line) => line.trimStart().startsWith('/'))).toBe(false);
    expect(reactionsOf(id)).toEqual(['confused']);
  });

  it('/retest runs the failed runs of the pull request\'s head again', async () => {
    const payload = webhookExample('pull_request', 'opened');
    delete payload.installation;
    const mark = join(stack.dir, `flaky-${randomUUID()}`);
    payload.repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops' };
    payload.pull_request = { ...(payload.pull_request as object), number: PR, title: mark, head: { ...((payload.pull_request as Payload).head as object), sha: HEAD } };
    // Matching creates an event's runs and sets its status in one transaction: matched means they are all there.
    const opened = await stack.deliver('pull_request', payload);
    expect(opened.runs).toHaveLength(1);
    const first = opened.runs[0]!.id;
    expect((await stack.until('the first run failed', () => runOf(first), (r) => !['pending', 'running'].includes(r.status))).status).toBe('failed');
    await stack.until('its check run completed', () => stack.github.checkRuns.filter((r) => r.external_id === first), (r) => r[0]?.status === 'completed');

    const { id, event } = await comment('walt', '/retest');
    await stack.until('👀', () => reactionsOf(id), (r) => r.includes('eyes'));
    const again = await stack.until('the re-run', () => stack.api<{ runs: { id: string; status: string }[] }>('/api/v1/runs?pipeline=flaky'), (r) => r.runs.length === 2 && r.runs.every((x) => !['pending', 'running'].includes(x.status)));
    const rerun = again.runs.find((r) => r.id !== first)!;
    expect(rerun.status).toBe('succeeded');
    expect(event.status).toBe('unmatched');
    await stack.until('the re-run\'s check run on the head', () => stack.github.checkRuns.filter((r) => r.external_id === rerun.id), (r) => r[0]?.head_sha === HEAD && r[0]?.conclusion === 'success');
  }, 60_000);

  it('/run starts a pipeline with its inputs; /cancel cancels the runs of the pull request', async () => {
    const { id, event } = await comment('walt', '/run hello who=team\n/slow');
    const slow = event.runs.find((r) => r.pipeline === 'slow')!.id;
    await stack.until('👀', () => reactionsOf(id), (r) => r.includes('eyes'));
    const hello = await stack.until('the hello run', () => stack.api<{ runs: { id: string; pipeline: string; status: string }[] }>('/api/v1/runs?pipeline=hello'), (r) => r.runs.length === 1 && r.runs[0]!.status === 'succeeded');
    const logs = await stack.api<{ lines: { text: string }[] }>(`/api/v1/runs/${hello.runs[0]!.id}/logs?task=hi`);
    expect(logs.lines.map((l) => l.text)).toContain('hello team');

    await stack.until('the slow run runs', () => runOf(slow), (r) => r.status === 'running');
    await stack.until('the slow run reported running', () => stack.github.checkRuns.filter((r) => r.external_id === slow), (r) => r.length === 1 && r[0]!.status === 'in_progress');
    await comment('walt', '/cancel');
    expect((await stack.until('the slow run cancelled', () => runOf(slow), (r) => r.status !== 'running')).status).toBe('cancelled');
  });
});
