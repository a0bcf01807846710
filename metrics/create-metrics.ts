// The Prometheus metrics of one eventops process (prom-client), kept in a registry of its own
// that the composition root builds once and hands to the parts that count: intake and matching
// (events), the run engine (runs), the task worker (tasks), the reconciler, the GitHub client.
// Gauges of shared state (runs in progress, queue depth, GitHub's rate limit) are read when
// Prometheus scrapes, from readers registered with `readOnScrape`. Labels carry names and
// statuses only — never a secret, a URL or a payload.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the scrape-time gauges read; each reader is optional (a process without GitHub has no rate limit). */
export interface ScrapeReaders {
  /** Runs now pending and running, by status (from the database: the same for every process). */
  runsInProgress?: () => Promise<ReadonlyArray<{ status: string; count: number }>>;
  /** Each queue's jobs by state, from the queue driver's stats. */
  queues?: () => Promise<ReadonlyArray<{ queue: string; waiting: number; active: number; failed: number }>>;
  /** The last rate-limit headers GitHub sent; undefined before any answer. */
  githubRateLimit?: () => { remaining: number; limit: number } | undefined;
}

export interface Metrics {
  readonly registry: Registry;
  /** `received` or `duplicate` at intake; `matched`, `unmatched` or `failed` once matched (or given up). */
  event(source: string, outcome: 'received' | 'duplicate' | 'matched' | 'unmatched' | 'failed'): void;
  /** How long matching one stored event took (trigger matching, runs created, verdicts stored). */
  matchDuration(seconds: number): void;
  /** A top-level or child run reached a final status. */
  runFinished(pipeline: string, status: string): void;
  /** One attempt of a task ended on a runner (`local`, `ssh`, `docker`, `kubernetes`, `agent`). */
  taskFinished(runner: string, status: string, seconds: number): void;
  /** One reconcile of a source ended with `outcome` (`applied`, `unchanged`, `invalid`, `failed`, `locked`). */
  reconciled(source: string, outcome: string, seconds: number): void;
  /** One request to GitHub's API answered with `status` (`error` when no answer came). */
  githubRequest(method: string, status: number | 'error'): void;
  /** This process leads the reconciler role (polls sources, fires schedules) or no longer does. */
  setLeader(leading: boolean): void;
  /** Registers readers for the scrape-time gauges (later calls add to or replace earlier ones). */
  readOnScrape(readers: ScrapeReaders): void;
  /** The registry in Prometheus' text format, and its content type. */
  render(): Promise<{ contentType: string; text: string }>;
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LONG_SECONDS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600];

/** A fresh registry with eventops' metrics and Node's process metrics (`process_*`, `nodejs_*`). */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const readers: ScrapeReaders = {};
  const events = new Counter({ name: 'eventops_events_total', help: 'Events by source and outcome: received, duplicate (at intake), matched, unmatched, failed (by the matcher).', labelNames: ['source', 'outcome'], registers: [registry] });
  const match = new Histogram({ name: 'eventops_event_match_duration_seconds', help: 'Time to match one stored event against the active triggers and store its runs and verdicts.', buckets: SECONDS, registers: [registry] });
  const runs = new Counter({ name: 'eventops_runs_finished_total', help: 'Runs that reached a final status, by pipeline and status.', labelNames: ['pipeline', 'status'], registers: [registry] });
  const tasks = new Histogram({ name: 'eventops_task_duration_seconds', help: 'Duration of task attempts on a runner, by runner type and status.', labelNames: ['runner', 'status'], buckets: LONG_SECONDS, registers: [registry] });
  const reconciles = new Histogram({ name: 'eventops_reconcile_duration_seconds', help: 'Duration of source reconciles, by source and outcome.', labelNames: ['source', 'outcome'], buckets: SECONDS.concat([30, 60]), registers: [registry] });
  const github = new Counter({ name: 'eventops_github_requests_total', help: "Requests to GitHub's API, by method and answer status (error: no answer).", labelNames: ['method', 'status'], registers: [registry] });
  new Gauge({
    name: 'eventops_runs_in_progress',
    help: 'Runs now pending or running (read from the database at scrape time).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      if (!readers.runsInProgress) return;
      const counts = await readers.runsInProgress();
      for (const status of ['pending', 'running']) this.set({ status }, counts.find((c) => c.status === status)?.count ?? 0);
    },
  });
  new Gauge({
    name: 'eventops_queue_jobs',
    help: 'Jobs in each queue by state (waiting includes delayed and retrying jobs), from the queue driver.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (!readers.queues) return;
      for (const q of await readers.queues()) {
        this.set({ queue: q.queue, state: 'waiting' }, q.waiting);
        this.set({ queue: q.queue, state: 'active' }, q.active);
        this.set({ queue: q.queue, state: 'failed' }, q.failed);
      }
    },
  });
  new Gauge({
    name: 'eventops_github_rate_limit_remaining',
    help: 'Requests left in the current GitHub rate-limit window, as GitHub last said (absent before the first answer).',
    registers: [registry],
    collect() {
      const limit = readers.githubRateLimit?.();
      if (limit) this.set(limit.remaining);
    },
  });
  const leader = new Gauge({ name: 'eventops_reconciler_leader', help: '1 while this process leads the reconciler role (polls sources and fires schedules), else 0.', registers: [registry] });
  return {
    registry,
    setLeader: (leading) => leader.set(leading ? 1 : 0),
    event: (source, outcome) => events.inc({ source, outcome }),
    matchDuration: (seconds) => match.observe(seconds),
    runFinished: (pipeline, status) => runs.inc({ pipeline, status }),
    taskFinished: (runner, status, seconds) => tasks.observe({ runner, status }, seconds),
    reconciled: (source, outcome, seconds) => reconciles.observe({ source, outcome }, seconds),
    githubRequest: (method, status) => github.inc({ method, status: String(status) }),
    readOnScrape: (more) => void Object.assign(readers, more),
    render: async () => ({ contentType: registry.contentType, text: await registry.metrics() }),
  };
}
