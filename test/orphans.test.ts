// Work that outlives a killed server (issue 20, item 14): `eventops serve` is killed with SIGKILL
// while a docker, ssh or agent task runs, and started again on the same data. The container
// (the remote process group, the agent's task) of the lost attempt must be stopped (it is no longer owned: its
// lease ran out and a retry replaced it), the run's log must say so, and the retry must never
// run beside it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type TestDockerd } from './helpers/dockerd.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { startSshd, type TestSshd } from './helpers/sshd.js';

/** Pids of processes on this machine whose command line is exactly `words` (the sshd helper's tasks run here). */
function processesRunning(words: string[]): number[] {
  const wanted = words.join('\0');
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0$/, '') === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('a docker task of a server killed with SIGKILL', () => {
  let dir: string;
  let dockerd: TestDockerd;
  let server: ServerProcess | undefined;
  let config: string;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server!.url}${path}`, { ...init, headers: { authorization: `Bearer ${server!.token}`, 'content-type': 'application/json' } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000, each?: () => Promise<void>): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      await each?.();
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${server?.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const start = () => startServerProcess({ config, dataDir: join(dir, 'data') });
  const containersOf = async (runId: string) =>
    (await dockerd.docker.listContainers({ all: true, filters: { label: [`dev.eventops.run=${runId}`] } })).map((c) => ({ attempt: c.Labels['dev.eventops.attempt'], state: c.State, name: (c.Names[0] ?? '').replace(/^\//, '') }));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-orphans-'));
    dockerd = await startDockerd();
    const defs = join(dir, 'defs');
    await mkdir(defs);
    await writeFile(
      join(defs, 'long.yaml'),
      `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: containers }
spec:
  tags: [containers]
  docker: { host: "${dockerd.host}" }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: long }
spec:
  tasks:
    - name: work
      type: docker
      image: ${dockerd.image}
      actuatorSelector: { tags: [containers] }
      retries: { limit: 1 }
      commands: [ "echo started attempt $EVENTOPS_ATTEMPT", "sleep 300" ]
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: long }
spec:
  event: { source: api, type: orphans.long }
  pipelines: [ { name: long } ]
`,
    );
    config = join(dir, 'eventops.yaml');
    // A short lease and sweep, so the lost attempt is found within seconds of the restart.
    await writeFile(config, ['server: { port: 0, host: 127.0.0.1 }', `dataDir: ${join(dir, 'data')}`, `sources: [ { name: orphans, path: ${defs} } ]`, 'runs: { lease: 3s }', 'queue: { sweepInterval: 1s }', ''].join('\n'));
    server = await start();
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 3);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await dockerd?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('stops the orphaned container on restart, says so in the run log, and runs the retry alone', async () => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'orphans.long', body: {} }) });
    const event = await until('event matched', () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.runs.length > 0);
    const id = event.runs[0]!.id;
    const [first] = await until('the first container runs', () => containersOf(id), (list) => list.some((c) => c.state === 'running'));

    await server!.kill();
    server = undefined;
    // Killed without a shutdown: the container goes on.
    expect((await containersOf(id)).filter((c) => c.state === 'running')).toHaveLength(1);

    server = await start();
    // Never two running at once: watched on every look until the retry runs alone.
    let together = 0;
    const watch = async () => {
      const running = (await containersOf(id)).filter((c) => c.state === 'running');
      if (running.length > 1) together++;
    };
    const alone = await until('the retry runs alone', () => containersOf(id), (list) => list.length === 1 && list[0]!.attempt === '2' && list[0]!.state === 'running', 90_000, watch);
    expect(together).toBe(0);
    expect(alone[0]!.name).not.toBe(first!.name);

    const lines = (await api<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=work`)).lines.map((l) => l.text);
    expect(lines).toContain(`stopped an orphaned attempt 1 of task work left by a previous server (container ${first!.name})`);

    await api(`/api/v1/runs/${id}/cancel`, { method: 'POST' });
    await until('the run ended', () => api<{ status: string }>(`/api/v1/runs/${id}`), (r) => !['pending', 'running'].includes(r.status), 60_000);
    await until('no container left', () => containersOf(id), (list) => list.length === 0, 30_000);
  }, 240_000);
});

describe('an ssh task of a server killed with SIGKILL', () => {
  let dir: string;
  let sshd: TestSshd;
  let server: ServerProcess | undefined;
  let config: string;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server!.url}${path}`, { ...init, headers: { authorization: `Bearer ${server!.token}`, 'content-type': 'application/json' } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000, each?: () => void): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      each?.();
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${server?.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const start = () => startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_HOST_KEY: sshd.privateKey } });
  // Each attempt sleeps for a length of its own, so its process can be told from the retry's.
  const sleeping = (attempt: number) => processesRunning(['sleep', `30${attempt}`]);
  let runId: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-orphans-ssh-'));
    sshd = await startSshd();
    const defs = join(dir, 'defs');
    await mkdir(defs);
    await writeFile(
      join(defs, 'long.yaml'),
      `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: host }
spec:
  tags: [host]
  ssh: { host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, privateKey: { secret: HOST_KEY }, hostKey: "${sshd.hostKey}" }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: long }
spec:
  tasks:
    - name: work
      type: ssh
      actuatorSelector: { tags: [host] }
      retries: { limit: 1 }
      commands: [ "sleep 30$EVENTOPS_ATTEMPT" ]
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: long }
spec:
  event: { source: api, type: orphans.ssh }
  pipelines: [ { name: long } ]
`,
    );
    config = join(dir, 'eventops.yaml');
    await writeFile(config, ['server: { port: 0, host: 127.0.0.1 }', `dataDir: ${join(dir, 'data')}`, `sources: [ { name: orphans, path: ${defs}, secrets: [ HOST_KEY ] } ]`, 'runs: { lease: 3s }', 'queue: { sweepInterval: 1s }', ''].join('\n'));
    server = await start();
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 3);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    for (const pid of [...sleeping(1), ...sleeping(2)]) process.kill(pid, 'SIGKILL');
    // Folders of this test's attempts left by a failure (the user's /tmp is shared with other tests).
    for (const name of readdirSync('/tmp').filter((n) => /^eventops-[0-9a-f]{24}$/.test(n))) {
      const marker = join('/tmp', name, 'private', 'attempt');
      if (runId && existsSync(marker) && readFileSync(marker, 'utf8').includes(runId)) await rm(join('/tmp', name), { recursive: true, force: true });
    }
    await sshd?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('stops the orphaned remote process group on restart, says so in the run log, and runs the retry alone', async () => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'orphans.ssh', body: {} }) });
    const event = await until('event matched', () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.runs.length > 0);
    const id = event.runs[0]!.id;
    runId = id;
    await until('the first attempt runs', async () => sleeping(1), (pids) => pids.length === 1);

    await server!.kill();
    server = undefined;
    // Killed without a shutdown: the remote task goes on.
    expect(sleeping(1)).toHaveLength(1);

    server = await start();
    let together = 0;
    await until('the retry runs alone', async () => ({ first: sleeping(1).length, retry: sleeping(2).length }), (n) => n.first === 0 && n.retry === 1, 90_000, () => {
      if (sleeping(1).length > 0 && sleeping(2).length > 0) together++;
    });
    expect(together).toBe(0);
    const lines = (await api<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=work`)).lines.map((l) => l.text);
    expect(lines.some((l) => /^stopped an orphaned attempt 1 of task work left by a previous server \(process group \d+ on /.test(l))).toBe(true);

    await api(`/api/v1/runs/${id}/cancel`, { method: 'POST' });
    await until('the run ended', () => api<{ status: string }>(`/api/v1/runs/${id}`), (r) => !['pending', 'running'].includes(r.status), 60_000);
  }, 240_000);
});

describe('an agent task of a server killed with SIGKILL', () => {
  const TOKEN = 'orphan-agent-token-5b1d';
  let dir: string;
  let server: ServerProcess | undefined;
  let agent: ChildProcess | undefined;
  let agentOut = '';
  let config: string;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server!.url}${path}`, { ...init, headers: { authorization: `Bearer ${server!.token}`, 'content-type': 'application/json' } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000, each?: () => void): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      each?.();
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${server?.output().slice(-3000)}\n--- agent ---\n${agentOut.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  // The restarted server listens on another port: the agent is started again for it, keeping its
  // work folder (it holds the attempt in memory, so it is the same agent process that must be told).
  const startServer = () => startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_AGENT_TOKEN: TOKEN } });
  const sleeping = (attempt: number) => processesRunning(['sleep', `31${attempt}`]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-orphans-agent-'));
    const defs = join(dir, 'defs');
    await mkdir(defs);
    await writeFile(
      join(defs, 'long.yaml'),
      `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: edge }
spec:
  tags: [edge]
  agent: { id: edge-orphans, token: { secret: AGENT_TOKEN } }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: long }
spec:
  tasks:
    - name: work
      type: agent
      actuatorSelector: { tags: [edge] }
      retries: { limit: 1 }
      commands: [ "sleep 31$EVENTOPS_ATTEMPT" ]
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: long }
spec:
  event: { source: api, type: orphans.agent }
  pipelines: [ { name: long } ]
`,
    );
    config = join(dir, 'eventops.yaml');
    // A fixed port, so the agent finds the restarted server where it left it.
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    await writeFile(config, [`server: { port: ${port}, host: 127.0.0.1 }`, `dataDir: ${join(dir, 'data')}`, `sources: [ { name: orphans, path: ${defs}, secrets: [ AGENT_TOKEN ] } ]`, 'runs: { lease: 3s }', 'queue: { sweepInterval: 1s }', ''].join('\n'));
    server = await startServer();
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 3);
    agent = spawn(process.execPath, [resolve('bin/eventops.js'), 'agent', '--server', server.url, '--id', 'edge-orphans', '--work-dir', join(dir, 'agent')], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EVENTOPS_AGENT_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent.stdout?.setEncoding('utf8').on('data', (t: string) => (agentOut += t));
    agent.stderr?.setEncoding('utf8').on('data', (t: string) => (agentOut += t));
  }, 120_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = once(agent, 'exit');
      agent.kill('SIGKILL');
      await exited;
    }
    await server?.stop();
    for (const pid of [...sleeping(1), ...sleeping(2)]) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('tells the reconnected agent to stop the orphaned attempt, says so in the run log, and runs the retry alone', async () => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'orphans.agent', body: {} }) });
    const event = await until('event matched', () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.runs.length > 0);
    const id = event.runs[0]!.id;
    await until('the first attempt runs on the agent', async () => sleeping(1), (pids) => pids.length === 1);

    await server!.kill();
    server = undefined;
    expect(sleeping(1)).toHaveLength(1);
    server = await startServer();

    let together = 0;
    await until('the retry runs alone', async () => ({ first: sleeping(1).length, retry: sleeping(2).length }), (n) => n.first === 0 && n.retry === 1, 90_000, () => {
      if (sleeping(1).length > 0 && sleeping(2).length > 0) together++;
    });
    expect(together).toBe(0);
    const lines = (await api<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=work`)).lines.map((l) => l.text);
    expect(lines).toContain('stopped an orphaned attempt 1 of task work left by a previous server (task on agent edge-orphans)');

    await api(`/api/v1/runs/${id}/cancel`, { method: 'POST' });
    await until('the run ended', () => api<{ status: string }>(`/api/v1/runs/${id}`), (r) => !['pending', 'running'].includes(r.status), 60_000);
  }, 240_000);
});
