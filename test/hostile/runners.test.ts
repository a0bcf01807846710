// Hostile runner faults against a real `eventops serve`: a docker actuator whose host accepts TCP
// connections and never answers (issue 20, item 13). A task with `timeout: 3s` there must end as
// timed out within a bound; a task on another actuator runs meanwhile; a task waiting for the
// busy actuator says so in its log; `runs cancel` ends a run stuck there; /healthz answers within
// 1 s throughout; and SIGTERM makes the process exit within a bound while a call hangs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHostileServer, watchHealth, type HealthWatch, type HostileServer } from './harness.js';

describe('hostile: a docker host that accepts and never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let defs: string;
  let server: HostileServer;
  let health: HealthWatch;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  interface RunView {
    id: string;
    status: string;
    tasks: { name: string; status: string; error: string | null }[];
  }
  const runView = async (id: string) => (await api<RunView>(`/api/v1/runs/${id}`)).body;
  const startRun = async (type: string): Promise<string> => {
    const posted = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: `hostile.${type}`, body: {} }) });
    expect(posted.status).toBe(202);
    const event = await until('event matched', async () => (await api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${posted.body.eventId}`)).body, (e) => e.status !== 'received' && e.runs.length > 0);
    return event.runs[0]!.id;
  };
  const logs = async (id: string, task: string) => (await api<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=${task}`)).body.lines.map((l) => l.text);
  const ended = (run: RunView) => !['pending', 'running'].includes(run.status);

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    defs = mkdtempSync(join(tmpdir(), 'eventops-hostile-runners-'));
    const trigger = (name: string) => `---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: ${name} }
spec:
  event: { source: api, type: hostile.${name} }
  pipelines: [ { name: ${name} } ]
`;
    writeFileSync(
      join(defs, 'runners.yaml'),
      `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: silent }
spec:
  tags: [silent]
  concurrency: 1
  docker: { host: "tcp://127.0.0.1:${port}" }
---
apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: here }
spec:
  tags: [here]
  local: {}
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: timeout }
spec:
  tasks:
    - { name: stuck, type: docker, image: busybox, timeout: 3s, actuatorSelector: { tags: [silent] }, commands: [ "sleep 60" ] }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: other }
spec:
  tasks:
    - { name: hello, type: local, actuatorSelector: { tags: [here] }, commands: [ "echo hello from another actuator" ] }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: held }
spec:
  tasks:
    - { name: first, type: docker, image: busybox, actuatorSelector: { tags: [silent] }, commands: [ "sleep 60" ] }
    - { name: second, type: docker, image: busybox, actuatorSelector: { tags: [silent] }, commands: [ "sleep 60" ] }
${trigger('timeout')}${trigger('other')}${trigger('held')}`,
    );
    // A running task gets `runs.shutdownTimeout` to end at SIGTERM before it is stopped and handed back.
    server = await startHostileServer({ configYaml: `sources: [ { name: h, path: ${defs} } ]\nruns: { lease: 3s, shutdownTimeout: 3s }\n` });
    await until('definitions applied', async () => (await api<{ total: number }>('/api/v1/definitions')).body, (d) => d.total >= 8);
    health = watchHealth(server.url, { pid: server.pid });
  }, 120_000);

  afterAll(async () => {
    await health?.stop();
    await server?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    rmSync(defs, { recursive: true, force: true });
  }, 60_000);

  it('times a task out at its timeout though the daemon never answers, while another actuator runs tasks', async () => {
    const started = Date.now();
    const stuck = await startRun('timeout');
    const other = await startRun('other');
    const quick = await until('the local run ended', () => runView(other), ended, 30_000);
    expect(quick.status).toBe('succeeded');
    const run = await until('the stuck run ended', () => runView(stuck), ended, 40_000);
    // timeout 3 s + 1 s for the runner to report it, and room for a busy machine (the API deadline is 30 s).
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(run.status).toBe('failed');
    expect(run.tasks[0]).toMatchObject({ name: 'stuck', status: 'timed_out' });
    expect(run.tasks[0]!.error).toContain('timed out after 3 s');
    expect((await logs(stuck, 'stuck')).join('\n')).toContain('timed out after 3 s');
  }, 60_000);

  it('says in the log of a task waiting for the busy actuator why it waits, and cancels the run', async () => {
    const id = await startRun('held');
    const waiting = await until('a waiting line', async () => [...(await logs(id, 'first')), ...(await logs(id, 'second'))], (lines) => lines.some((l) => l.startsWith('waiting for a free slot')), 30_000);
    expect(waiting).toContain('waiting for a free slot on actuator h/silent (1 of 1 busy)');
    const cancelAt = Date.now();
    const cancelled = await api<unknown>(`/api/v1/runs/${id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBeLessThan(300);
    const run = await until('the held run ended', () => runView(id), ended, 30_000);
    // One lease renewal (1 s) to see the cancel, and room for a busy machine.
    expect(Date.now() - cancelAt).toBeLessThan(15_000);
    expect(run.status).toBe('cancelled');
    // The slot is free again: a new task on the actuator is taken (and times out as before).
    const next = await startRun('timeout');
    const again = await until('the next run ended', () => runView(next), ended, 40_000);
    expect(again.tasks[0]).toMatchObject({ status: 'timed_out' });
  }, 90_000);

  it('kept /healthz under 1 s throughout, and exits on SIGTERM while a docker call hangs', async () => {
    const watched = await health.stop();
    expect(watched.failures).toEqual([]);
    expect(watched.worstMs).toBeLessThan(1000);
    const id = await startRun('held');
    await until('a task running', () => runView(id), (r) => r.tasks.some((t) => t.status === 'running'), 30_000);
    const stopAt = Date.now();
    await server.stop();
    const tookMs = Date.now() - stopAt;
    // The shutdown delay (2 s) and the running task's shutdown timeout (3 s), then the hung call is
    // given up; server.stop() SIGKILLs after 15 s, so the process must have exited on its own before.
    expect(tookMs).toBeLessThan(12_000);
    expect(server.output()).not.toMatch(/SIGKILL/);
  }, 60_000);
});
