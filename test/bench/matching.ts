// Benchmark of trigger matching (queue/matching): 10,000 generated triggers over four
// definitions sources (GitHub events keyed by repository, slash-commands, API types, NATS
// subjects with wildcards, generic webhooks, schedules) and 10,000 events, GitHub ones built
// from GitHub's published example payloads. One warm-up pass is excluded; then several passes
// time `matchEvent` per event. Prints p50/p99/max per event and candidates per event against
// the target (p99 under 1 ms) and writes JSON to test/bench/results/.
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { performance } from 'node:perf_hooks';
import { buildTriggerIndex, createEvent, eventFromGithub, matchEvent, type NormalizedEvent, type TriggerEntry } from '../../queue/matching/index.js';
import type { Pipeline, Trigger } from '../../schemas/index.js';
import { printTable, resultsHeader, spread, writeResults } from './bench-results.js';
import { hex, pick, seeded, type Rng } from './generate-repository.js';

const SEED = 20260301;
const TRIGGERS = 10_000;
const EVENTS = 10_000;
const PASSES = 5;
const TARGET_P99_MS = 1;
const SOURCES = ['ops', 'platform', 'payments', 'data'];
const REPOS = Array.from({ length: 400 }, (_, i) => `acme/repo-${i}`);
const SERVICES = Array.from({ length: 300 }, (_, i) => `svc-${i}`);
const VERBS = ['requested', 'rolled-back', 'scaled'];
const CLUSTERS = Array.from({ length: 60 }, (_, i) => `c${i}`);
const NAMESPACES = Array.from({ length: 40 }, (_, i) => `ns${i}`);
const COMMANDS = Array.from({ length: 30 }, (_, i) => `/cmd-${i}`);
const RECEIVERS = Array.from({ length: 10 }, (_, i) => `webhook/alerts-${i}`);


// ---------------------------------------------------------------------------------------------
// Definitions

function pipeline(name: string, inputs: NonNullable<Pipeline['spec']['inputs']>): Pipeline {
  return { apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name }, spec: { inputs, tasks: [{ name: 'run', commands: ['true'] }] } };
}

const PIPELINES: Record<string, Pipeline> = {
  deploy: pipeline('deploy', [
    { name: 'ref', type: 'string', required: true },
    { name: 'env', type: 'string', enum: ['staging', 'prod'], default: 'staging' },
    { name: 'run-tests', type: 'boolean', default: true },
  ]),
  notify: pipeline('notify', [{ name: 'who', type: 'string', default: 'ops' }, { name: 'severity', type: 'string' }]),
};

/** What each GitHub event's payload offers as the ref to build. */
const GITHUB_REF: Record<string, string> = {
  push: '${{ event.body.after }}',
  pull_request: '${{ event.body.pull_request.head.sha }}',
  issues: 'issue-${{ event.body.issue.number }}',
  release: 'refs/tags/${{ event.body.release.tag_name }}',
  workflow_run: '${{ event.body.workflow_run.head_sha }}',
  check_suite: '${{ event.body.check_suite.head_sha }}',
};
const GITHUB_TYPES = ['push', 'pull_request', 'pull_request.opened', 'pull_request.synchronize', 'pull_request.closed', 'issues.opened', 'issues.labeled', 'release.published', 'workflow_run.completed', 'check_suite.completed'];

function generateTriggers(rng: Rng): TriggerEntry[] {
  const entries: TriggerEntry[] = [];
  for (let i = 0; i < TRIGGERS; i++) {
    const roll = rng();
    let spec: Trigger['spec'];
    if (roll < 0.35) {
      const type = pick(rng, GITHUB_TYPES);
      const event = type.split('.')[0] as string;
      const filters: NonNullable<Trigger['spec']['filters']> = [];
      if (rng() < 0.85) filters.push({ path: 'body.repository.full_name', value: rng() < 0.8 ? [pick(rng, REPOS)] : [pick(rng, REPOS), pick(rng, REPOS)] });
      else filters.push({ path: 'body.repository.full_name', value: [`^acme/repo-${Math.floor(rng() * 40)}\\d$`], match: 'regex' });
      if (event === 'push' && rng() < 0.6) filters.push(rng() < 0.5 ? { path: 'body.ref', value: ['refs/heads/main', 'refs/heads/master'] } : { path: 'body.ref', value: ['refs/heads/release-*', 'refs/tags/*'], match: 'glob' });
      if (event === 'push' && rng() < 0.4) filters.push({ expr: 'size(body.commits) > 0' });
      if (event === 'pull_request' && rng() < 0.4) filters.push({ expr: '!body.pull_request.draft' });
      spec = {
        event: { source: 'github', type },
        filters,
        pipelines: [{ name: 'deploy', inputs: { ref: GITHUB_REF[event] as string, env: rng() < 0.2 ? 'prod' : 'staging' } }],
        ...(rng() < 0.5 ? { dedupe: `\${{ trigger.name + '/' + event.id }}` } : {}),
      };
    } else if (roll < 0.4) {
      spec = {
        event: { source: 'github' },
        command: pick(rng, COMMANDS),
        permission: 'write',
        filters: [{ expr: 'has(body.issue.pull_request)' }],
        pipelines: [{ name: 'deploy', inputs: { ref: 'refs/pull/${{ event.body.issue.number }}/head' } }],
      };
    } else if (roll < 0.6) {
      const service = pick(rng, SERVICES);
      spec = {
        event: { source: 'api', type: `${service}.${pick(rng, VERBS)}`, ...(rng() < 0.3 ? { subject: rng() < 0.5 ? 'services.>' : `services.${service}` } : {}) },
        filters: [
          { path: 'labels.env', value: rng() < 0.5 ? ['staging', 'prod'] : [pick(rng, ['staging', 'prod'])] },
          { path: 'body.sha', value: ['^[0-9a-f]{7,40}$'], match: 'regex' },
        ],
        pipelines: [{ name: 'deploy', inputs: { ref: '${{ event.body.sha }}', env: '${{ event.labels.env }}' } }],
        dedupe: "${{ event.labels.env + '/' + event.body.sha }}",
        dedupeWindow: '1h',
      };
    } else if (roll < 0.85) {
      const subject = pick(rng, [
        `ops.clusters.${pick(rng, CLUSTERS)}.namespaces.*.taskruns.>`,
        `ops.clusters.*.namespaces.${pick(rng, NAMESPACES)}.taskruns.*.status`,
        `ops.clusters.${pick(rng, CLUSTERS)}.>`,
        `ops.clusters.${pick(rng, CLUSTERS)}.namespaces.${pick(rng, NAMESPACES)}.taskruns.*.status`,
      ]);
      const or = rng() < 0.3;
      spec = {
        event: { source: 'nats', subject, ...(rng() < 0.5 ? { type: `dev.tekton.event.taskrun.${pick(rng, ['failed', 'succeeded'])}.v1` } : {}) },
        ...(or ? { filtersOperator: 'or' as const } : {}),
        filters: or
          ? [{ path: 'labels.severity', value: ['critical', 'high'] }, { path: 'subject', value: ['ops.clusters.c1'], match: 'prefix' }]
          : [{ expr: "labels.severity != 'low'" }],
        pipelines: [{ name: 'notify', inputs: { who: '${{ event.subject }}', severity: '${{ event.labels.severity }}' } }],
      };
    } else if (roll < 0.95) {
      spec = {
        event: { source: pick(rng, RECEIVERS), type: 'alert' },
        filters: [{ path: 'body.status', value: 'firing' }, { path: 'body.commonLabels.alertname', value: [pick(rng, ['Disk*', 'Memory*', 'Cpu*', 'Latency*'])], match: 'glob' }],
        pipelines: [{ name: 'notify', inputs: { who: '${{ event.body.commonLabels.alertname }}' } }],
        dedupe: '${{ event.body.groupKey }}',
        dedupeWindow: '30m',
      };
    } else {
      spec = { schedule: `${i % 60} * * * *`, event: { source: 'schedule' }, pipelines: [{ name: 'notify', inputs: { who: 'night shift' } }] };
    }
    entries.push({ source: SOURCES[i % SOURCES.length] as string, revision: hex(rng, 40), trigger: { apiVersion: 'eventops.dev/v1', kind: 'Trigger', metadata: { name: `t-${i}` }, spec } });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Events

type Payload = Record<string, unknown>;
const definitions = examples as unknown as { name: string; examples: Payload[] }[];
const payloadsOf = (name: string) => definitions.find((d) => d.name === name)?.examples ?? [];
const GITHUB_EVENTS = ['push', 'pull_request', 'issues', 'release', 'workflow_run', 'check_suite', 'star', 'fork', 'watch', 'label'];

function generateEvents(rng: Rng, entries: readonly TriggerEntry[]): NormalizedEvent[] {
  const schedules = entries.filter((e) => e.trigger.spec.schedule !== undefined);
  const events: NormalizedEvent[] = [];
  const at = new Date('2026-03-01T00:00:00Z');
  const comment = payloadsOf('issue_comment').find((p) => p.action === 'created') as Payload & { comment: Payload; issue: Payload };
  for (let i = 0; i < EVENTS; i++) {
    const id = `e-${i}`;
    const roll = rng();
    if (roll < 0.4) {
      const name = pick(rng, GITHUB_EVENTS);
      const body = structuredClone(pick(rng, payloadsOf(name))) as Payload & { repository?: Payload };
      if (body.repository) body.repository.full_name = rng() < 0.95 ? pick(rng, REPOS) : `other/repo-${i}`;
      if (name === 'push') body.ref = pick(rng, ['refs/heads/main', 'refs/heads/dev', 'refs/heads/release-1.2', 'refs/tags/v1.0.0']);
      events.push(eventFromGithub(body, { event: name, delivery: id }, { id, receivedAt: at }));
    } else if (roll < 0.45) {
      const body = structuredClone(comment);
      body.comment.body = `${pick(rng, COMMANDS)} ${pick(rng, ['staging', 'prod', ''])}\nthanks`;
      if (rng() < 0.5) body.issue.pull_request = { url: 'https://api.github.com/repos/acme/x/pulls/1' };
      events.push(eventFromGithub(body, { event: 'issue_comment', delivery: id }, { id, receivedAt: at }));
    } else if (roll < 0.65) {
      const service = pick(rng, SERVICES);
      events.push(
        createEvent({
          id,
          source: 'api',
          type: `${service}.${pick(rng, VERBS)}`,
          subject: `services.${service}`,
          labels: { env: pick(rng, ['staging', 'prod', 'dev']) },
          body: { service, sha: rng() < 0.9 ? hex(rng, 7) : 'not-a-sha', requestedBy: 'alice' },
          receivedAt: at,
        }),
      );
    } else if (roll < 0.9) {
      const subject = `ops.clusters.${pick(rng, CLUSTERS)}.namespaces.${pick(rng, NAMESPACES)}.taskruns.build-${i % 100}.status`;
      events.push(
        createEvent({
          id,
          source: 'nats',
          type: `dev.tekton.event.taskrun.${pick(rng, ['failed', 'succeeded', 'started'])}.v1`,
          subject,
          labels: { severity: pick(rng, ['low', 'high', 'critical']), 'nats.stream': 'TEKTON' },
          body: { taskRun: { name: `build-${i % 100}`, status: { conditions: [{ type: 'Succeeded', status: 'False', reason: 'Failed' }] } } },
          receivedAt: at,
        }),
      );
    } else if (roll < 0.98) {
      events.push(
        createEvent({
          id,
          source: pick(rng, RECEIVERS),
          type: 'alert',
          body: { status: pick(rng, ['firing', 'resolved']), groupKey: `g-${i % 500}`, commonLabels: { alertname: pick(rng, ['DiskFull', 'MemoryHigh', 'CpuThrottled', 'LatencyHigh', 'Other']) }, alerts: [{ labels: { instance: `host-${i % 50}` } }] },
          receivedAt: at,
        }),
      );
    } else {
      const target = pick(rng, schedules);
      events.push(createEvent({ id, source: 'schedule', type: 'schedule', subject: `${target.source}/${target.trigger.metadata.name}`, labels: { source: target.source, trigger: target.trigger.metadata.name }, body: {}, receivedAt: at }));
    }
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Pass {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function main(): void {
  const rng = seeded(SEED);
  const entries = generateTriggers(rng);
  const events = generateEvents(rng, entries);
  const lookup = (_source: string, name: string) => PIPELINES[name];

  const buildStart = performance.now();
  const index = buildTriggerIndex(entries);
  const buildMs = performance.now() - buildStart;

  // Warm-up (excluded): compiles every expression, warms the JIT and caches.
  const candidates = new Float64Array(events.length);
  let matched = 0;
  let runs = 0;
  let inputsFailed = 0;
  events.forEach((event, i) => {
    const result = matchEvent(index, event, lookup);
    candidates[i] = result.verdicts.length;
    matched += result.verdicts.filter((v) => v.verdict === 'matched').length;
    inputsFailed += result.verdicts.filter((v) => v.verdict === 'inputs-failed').length;
    runs += result.runs.length;
  });

  const passes: Pass[] = [];
  const times = new Float64Array(events.length);
  for (let pass = 0; pass < PASSES; pass++) {
    for (let i = 0; i < events.length; i++) {
      const start = performance.now();
      matchEvent(index, events[i] as NormalizedEvent, lookup);
      times[i] = performance.now() - start;
    }
    const sorted = times.slice().sort();
    passes.push({ p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] as number, meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length });
  }
  const sortedCandidates = candidates.slice().sort();
  const perEvent = {
    mean: sortedCandidates.reduce((a, b) => a + b, 0) / sortedCandidates.length,
    p50: percentile(sortedCandidates, 50),
    p99: percentile(sortedCandidates, 99),
    max: sortedCandidates[sortedCandidates.length - 1] as number,
  };
  const p50 = spread(passes.map((p) => p.p50Ms));
  const p99 = spread(passes.map((p) => p.p99Ms));
  const max = spread(passes.map((p) => p.maxMs));
  const mean = spread(passes.map((p) => p.meanMs));

  console.log(`matching: ${TRIGGERS.toLocaleString('en')} triggers (${SOURCES.length} sources), ${EVENTS.toLocaleString('en')} events, index built in ${buildMs.toFixed(1)} ms`);
  console.log(`per event (warm-up pass): ${(matched / EVENTS).toFixed(2)} triggers matched, ${(runs / EVENTS).toFixed(2)} runs planned, ${(inputsFailed / EVENTS).toFixed(2)} inputs-failed`);
  const ms = (n: number) => `${(n * 1000).toFixed(0)} µs`;
  printTable(
    ['per event', 'median of passes', `min–max of ${PASSES} passes`],
    [
      ['p50', ms(p50.median), `${ms(p50.min)} – ${ms(p50.max)}`],
      ['p99', ms(p99.median), `${ms(p99.min)} – ${ms(p99.max)}`],
      ['max', ms(max.median), `${ms(max.min)} – ${ms(max.max)}`],
      ['mean', ms(mean.median), `${ms(mean.min)} – ${ms(mean.max)}`],
    ],
  );
  printTable(['candidates per event', 'value'], [['mean', perEvent.mean.toFixed(1)], ['p50', String(perEvent.p50)], ['p99', String(perEvent.p99)], ['max', String(perEvent.max)]]);
  const met = p99.median < TARGET_P99_MS;
  console.log(`\ntarget: p99 < ${TARGET_P99_MS} ms per event — ${met ? 'met' : 'NOT met'} (${ms(p99.median)})`);

  const path = writeResults({
    ...resultsHeader('matching', ['@marcbachmann/cel-js', '@octokit/webhooks-examples']),
    seed: SEED,
    triggers: TRIGGERS,
    events: EVENTS,
    passes: PASSES,
    indexBuildMs: buildMs,
    perEventMs: { p50, p99, max, mean },
    candidatesPerEvent: perEvent,
    matchedPerEvent: matched / EVENTS,
    runsPerEvent: runs / EVENTS,
    target: { p99Ms: TARGET_P99_MS, met },
  });
  console.log(`results: ${path}`);
}

main();
