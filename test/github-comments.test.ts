// Comment commands (issueops) end to end: GitHub's published issue_comment example payloads,
// signed and replayed through /webhooks/github of a real `eventops serve` process, with the
// commenter's permission looked up on a fake GitHub API (a real HTTP server that records every
// call). A reader's `/deploy` is refused (😕 and a reply, no run); a writer's runs (👀, one sticky
// comment kept up to date); `/approve` lets the waiting approval task proceed; an unknown
// command is answered with the closest one; `/run` and `/cancel` act on runs.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from './helpers/fake-github.js';
import { startGitServer, type GitServer } from './helpers/git-server.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';

const HOOK_SECRET = 'gh-hook-secret-c0m';
const GH_TOKEN = 'ghs_fake_token_for_comments_42';
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

type Payload = Record<string, unknown>;

describe('comment commands (issueops)', () => {
  let dir: string;
  let git: GitServer;
  let github: FakeGithub;
  let server: ServerProcess;
  let nextComment = 9_000_000;

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const until = async <T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n--- server ---\n${server.output().slice(-3000)}\n--- github calls ---\n${github.requests.map((r) => `${r.method} ${r.path}`).join('\n').slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** A new comment by `user` on the pull request, from GitHub's published example; resolves once matched. */
  const comment = async (user: string, text: string) => {
    const list = (examples as unknown as { name: string; examples: Payload[] }[]).find((d) => d.name === 'issue_comment')!.examples;
    const payload = structuredClone(list.find((e) => e.action === 'created')!);
    delete payload.installation;
    const id = nextComment++;
    payload.repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops' };
    payload.issue = { ...(payload.issue as object), number: PR, pull_request: { url: 'https://api.github.invalid/repos/acme/ops/pulls/7' } };
    payload.comment = { ...(payload.comment as object), id, body: text, user: { ...((payload.comment as Payload).user as object), login: user, type: 'User' } };
    const body = JSON.stringify(payload);
    const res = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'issue_comment', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(HOOK_SECRET, body) }, body });
    expect(res.status).toBe(202);
    const { eventId } = (await res.json()) as { eventId: string };
    const event = await until('event matched', () => api<{ status: string; runs: { id: string; pipeline: string }[]; verdicts: { trigger: string; verdict: string; reason: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
    return { id, event };
  };
  const reactionsOf = (id: number) => github.comments.find((c) => c.id === id)?.reactions ?? [];
  const replies = () => github.comments.filter((c) => c.issue === PR && !c.body.startsWith('<!-- eventops'));
  const sticky = (pipeline: string) => github.comments.filter((c) => c.body.startsWith(`<!-- eventops: pipeline ${pipeline} -->`));
  const runOf = (id: string) => api<{ status: string; tasks: { name: string; status: string; outputs: Record<string, string> }[] }>(`/api/v1/runs/${id}`);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-comments-'));
    git = await startGitServer();
    const repo = await git.createRepo('acme/ops');
    await repo.write({ 'eventops/pipelines.yaml': PIPELINES, 'eventops/triggers.yaml': TRIGGERS });
    await repo.commit('definitions');
    github = await startFakeGithub({ token: GH_TOKEN, permissions: { rita: 'read', wanda: 'write', walt: 'write' }, pulls: { [`acme/ops#${PR}`]: { sha: HEAD, ref: 'feature' } } });
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      [
        'server: { port: 0, host: 127.0.0.1 }',
        `dataDir: ${join(dir, 'data')}`,
        `sources: [ { name: ops, url: "${git.url('acme/ops')}", ref: main, dir: eventops, interval: 1h } ]`,
        `github: { token: { secret: GH_TOKEN }, apiUrl: "${github.url}", webhookSecrets: [ { secret: GH_HOOK } ] }`,
        '',
      ].join('\n'),
    );
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_GH_TOKEN: GH_TOKEN, EVENTOPS_SECRET_GH_HOOK: HOOK_SECRET } });
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 5);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await github?.close();
    await git?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('a reader\'s /deploy is refused: no run, 😕 and a reply saying why', async () => {
    const { id, event } = await comment('rita', 'please deploy\n/deploy');
    expect(event.runs).toEqual([]);
    expect(event.verdicts.find((v) => v.trigger === 'deploy-command')).toMatchObject({ verdict: 'refused', reason: 'the command needs write permission on acme/ops; @rita has read; no run started' });
    await until('the refusal answered', () => replies().length, (n) => n === 1);
    expect(reactionsOf(id)).toEqual(['confused']);
    expect(replies()[0]!.body).toContain('`/deploy` refused: the command needs write permission on acme/ops; @rita has read');
    // The permission was looked up on GitHub, not read from author_association.
    expect(github.requests.some((r) => r.path === '/repos/acme/ops/collaborators/rita/permission')).toBe(true);
  });

  it('a writer\'s /deploy runs, 👀, one sticky comment follows the run; /approve lets the approval task proceed', async () => {
    const { id, event } = await comment('wanda', '/deploy');
    expect(event.runs).toHaveLength(1);
    const runId = event.runs[0]!.id;
    // The run of a comment on a pull request is a check run on the PR's head (looked up).
    await until('the check run on the head', () => github.checkRuns.filter((r) => r.external_id === runId), (r) => r.length === 1 && r[0]!.head_sha === HEAD);
    await until('the approval task waits', () => runOf(runId), (r) => r.tasks.some((t) => t.name === 'gate' && t.status === 'waiting_approval'));
    await until('👀 on the comment', () => reactionsOf(id), (r) => r.includes('eyes'));
    const [first] = await until('the sticky comment', () => sticky('deploy'), (c) => c.length === 1 && c[0]!.body.includes('waiting'));
    expect(first!.body).toContain('| gate | ✋ waiting approval |');

    const approval = await comment('wanda', 'LGTM\n/approve ship it');
    const done = await until('the run ended', () => runOf(runId), (r) => !['pending', 'running'].includes(r.status));
    expect(done.status).toBe('succeeded');
    expect(done.tasks.find((t) => t.name === 'gate')!.outputs).toMatchObject({ approvedBy: 'wanda', comment: 'ship it' });
    await until('👀 on the approval', () => reactionsOf(approval.id), (r) => r.includes('eyes'));
    // Still one comment for the pipeline, edited to the final state.
    const [last] = await until('the sticky comment shows the end', () => sticky('deploy'), (c) => c.length === 1 && c[0]!.body.includes('✅ **eventops/deploy**'));
    expect(last!.id).toBe(first!.id);
    expect(last!.updates).toBeGreaterThan(0);
    expect(last!.body).toContain('| rollout | ✅ succeeded |');
  }, 60_000);

  it('an unknown command gets 😕 and a reply naming the closest command; /help lists them', async () => {
    const before = replies().length;
    const { id } = await comment('walt', '/deplyo now\n/help');
    await until('the answer', () => replies().length, (n) => n === before + 1);
    const reply = replies().at(-1)!.body;
    expect(reply).toContain('`/deplyo`: unknown command (did you mean `/deploy`?)');
    expect(reply).toContain('`/run <pipeline> key=value…`');
    expect(reply).toContain('`/deploy` (write)');
    expect(reply.split('\n').some((line) => line.trimStart().startsWith('/'))).toBe(false);
    expect(reactionsOf(id)).toEqual(['confused']);
  });

  it('/retest runs the failed runs of the pull request\'s head again', async () => {
    const payload = structuredClone((examples as unknown as { name: string; examples: Payload[] }[]).find((d) => d.name === 'pull_request')!.examples.find((e) => e.action === 'opened')!);
    delete payload.installation;
    const mark = join(dir, `flaky-${randomUUID()}`);
    payload.repository = { ...(payload.repository as object), full_name: 'acme/ops', name: 'ops' };
    payload.pull_request = { ...(payload.pull_request as object), number: PR, title: mark, head: { ...((payload.pull_request as Payload).head as object), sha: HEAD } };
    const body = JSON.stringify(payload);
    const res = await fetch(`${server.url}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': await sign(HOOK_SECRET, body) }, body });
    const { eventId } = (await res.json()) as { eventId: string };
    const opened = await until('the PR event matched', () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received' && e.runs.length === 1);
    const first = opened.runs[0]!.id;
    expect((await until('the first run failed', () => runOf(first), (r) => !['pending', 'running'].includes(r.status))).status).toBe('failed');
    await until('its check run completed', () => github.checkRuns.filter((r) => r.external_id === first), (r) => r[0]?.status === 'completed');

    const { id, event } = await comment('walt', '/retest');
    await until('👀', () => reactionsOf(id), (r) => r.includes('eyes'));
    const again = await until('the re-run', () => api<{ runs: { id: string; status: string }[] }>('/api/v1/runs?pipeline=flaky'), (r) => r.runs.length === 2 && r.runs.every((x) => !['pending', 'running'].includes(x.status)));
    const rerun = again.runs.find((r) => r.id !== first)!;
    expect(rerun.status).toBe('succeeded');
    expect(event.status).toBe('unmatched');
    await until('the re-run\'s check run on the head', () => github.checkRuns.filter((r) => r.external_id === rerun.id), (r) => r[0]?.head_sha === HEAD && r[0]?.conclusion === 'success');
  }, 60_000);

  it('/run starts a pipeline with its inputs; /cancel cancels the runs of the pull request', async () => {
    const { id, event } = await comment('walt', '/run hello who=team\n/slow');
    const slow = event.runs.find((r) => r.pipeline === 'slow')!.id;
    await until('👀', () => reactionsOf(id), (r) => r.includes('eyes'));
    const hello = await until('the hello run', () => api<{ runs: { id: string; pipeline: string; status: string }[] }>('/api/v1/runs?pipeline=hello'), (r) => r.runs.length === 1 && r.runs[0]!.status === 'succeeded');
    const logs = await api<{ lines: { text: string }[] }>(`/api/v1/runs/${hello.runs[0]!.id}/logs?task=hi`);
    expect(logs.lines.map((l) => l.text)).toContain('hello team');

    await until('the slow run runs', () => runOf(slow), (r) => r.status === 'running');
    await until('the slow run reported running', () => github.checkRuns.filter((r) => r.external_id === slow), (r) => r.length === 1 && r[0]!.status === 'in_progress');
    await comment('walt', '/cancel');
    expect((await until('the slow run cancelled', () => runOf(slow), (r) => r.status !== 'running')).status).toBe('cancelled');
  });
});
