// The metrics registry: what each recording call adds, the scrape-time gauges, and that the
// whole exposition (with Node's process metrics) is valid Prometheus text.
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../test/helpers/prometheus-text.js';
import { createMetrics } from './create-metrics.js';

describe('createMetrics', () => {
  it('renders valid Prometheus text in which each recorded thing moves its series', async () => {
    const metrics = createMetrics();
    const before = parsePrometheusText((await metrics.render()).text);
    expect(before.value('eventops_events_total', { source: 'api', outcome: 'matched' })).toBeUndefined();
    metrics.event('api', 'received');
    metrics.event('api', 'matched');
    metrics.event('api', 'matched');
    metrics.matchDuration(0.02);
    metrics.runFinished('deploy', 'succeeded');
    metrics.taskFinished('local', 'failed', 1.5);
    metrics.reconciled('ops', 'applied', 0.3);
    metrics.githubRequest('POST', 201);
    metrics.readOnScrape({
      runsInProgress: async () => [{ status: 'running', count: 2 }],
      queues: async () => [{ queue: 'events', waiting: 3, active: 1, failed: 0 }],
      githubRateLimit: () => ({ remaining: 4999, limit: 5000 }),
    });
    const rendered = await metrics.render();
    expect(rendered.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const after = parsePrometheusText(rendered.text);
    expect(after.value('eventops_events_total', { source: 'api', outcome: 'matched' })).toBe(2);
    expect(after.value('eventops_events_total', { source: 'api', outcome: 'received' })).toBe(1);
    expect(after.value('eventops_event_match_duration_seconds_count')).toBe(1);
    expect(after.value('eventops_event_match_duration_seconds_bucket', { le: '0.025' })).toBe(1);
    expect(after.value('eventops_event_match_duration_seconds_bucket', { le: '0.01' })).toBe(0);
    expect(after.value('eventops_runs_finished_total', { pipeline: 'deploy', status: 'succeeded' })).toBe(1);
    expect(after.value('eventops_task_duration_seconds_sum', { runner: 'local', status: 'failed' })).toBe(1.5);
    expect(after.value('eventops_reconcile_duration_seconds_count', { source: 'ops', outcome: 'applied' })).toBe(1);
    expect(after.value('eventops_github_requests_total', { method: 'POST', status: '201' })).toBe(1);
    expect(after.value('eventops_runs_in_progress', { status: 'running' })).toBe(2);
    expect(after.value('eventops_runs_in_progress', { status: 'pending' })).toBe(0);
    expect(after.value('eventops_queue_jobs', { queue: 'events', state: 'waiting' })).toBe(3);
    expect(after.value('eventops_github_rate_limit_remaining')).toBe(4999);
    expect(after.types.get('process_cpu_user_seconds_total')).toBe('counter');
  });

  it('keeps each registry apart: two processes in one test do not share counts', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.runFinished('p', 'failed');
    expect(parsePrometheusText((await b.render()).text).value('eventops_runs_finished_total', { pipeline: 'p' })).toBeUndefined();
  });
});

describe('parsePrometheusText', () => {
  it('refuses what Prometheus would refuse', () => {
    expect(() => parsePrometheusText('# TYPE a counter\na 1\n')).not.toThrow();
    expect(() => parsePrometheusText('a 1\n')).toThrow(/no TYPE/);
    expect(() => parsePrometheusText('# TYPE a counter\na{x="1} 1\n')).toThrow(/unterminated/);
    expect(() => parsePrometheusText('# TYPE a counter\na{x="\\q"} 1\n')).toThrow(/escape/);
    expect(() => parsePrometheusText('# TYPE a counter\na one\n')).toThrow(/invalid value/);
    expect(() => parsePrometheusText('# TYPE a counter\na 1\na 2\n')).toThrow(/twice/);
    expect(() => parsePrometheusText('# TYPE a counter\na 1')).toThrow(/newline/);
    expect(() => parsePrometheusText('# TYPE 1a counter\n')).toThrow(/name/);
  });
});
