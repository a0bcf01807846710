// `eventops agent` end to end: real agent processes dial a real `eventops serve` process over
// loopback and run the tasks of test/fixtures/agents. The agent runner also passes the runner
// conformance suite, through an in-process hub and a real agent process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runnerConformance } from '../runners/conformance.js';
import { createAgentHub } from '../runners/index.js';
import { processAlive } from '../runners/process-group.js';
import { agentSockets } from '../webhooks/index.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { startDockerd, type TestDockerd } from './helpers/dockerd.js';
import { Redis } from 'ioredis';

const DEPLOY_TOKEN = 'agent-deploy-token-77e1c';
const EDGE2_TOKEN = 'edge-two-secret-token-3a9';

interface AgentProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<unknown>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function startAgent(server: string, id: string, token: string, workDir: string): AgentProcess {
  return spawnAgent([], server, id, token, workDir);
}

function spawnAgent(extra: string[], server: string, id: string, token: string, workDir: string): AgentProcess {
  const child = spawn(process.execPath, [resolve('bin/eventops.js'), 'agent', '--server', server, '--id', id, '--work-dir', workDir, ...extra], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', EVENTOPS_AGENT_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = once(child, 'exit');
  return {
    child,
    output: () => out,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

async function until<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, ms = 30_000, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${context().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

runnerConformance('agent', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'eventops-agent-conformance-'));
  const hub = createAgentHub();
  const sockets = agentSockets({ hub, authenticate: async (id, token) => id === 'conformance' && token === 'conformance-token', log: () => undefined });
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  http.on('upgrade', (request, socket, head) => {
    if (!sockets.upgrade(request, socket, head)) socket.destroy();
  });
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  const agent = startAgent(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, 'conformance', 'conformance-token', workDir);
  await until('the agent connected', () => hub.connected('conformance'), Boolean, 20_000, agent.output);
  return {
    runner: hub.runner('conformance'),
    async cleanup() {
      await agent.kill();
      await hub.close();
      sockets.close();
      await new Promise((done) => http.close(done));
      await rm(workDir, { recursive: true, force: true });
    },
  };
});

describe('eventops agent end to end', () => {
  let dir: string;
  let server: ServerProcess;
  const agents: AgentProcess[] = [];
  const api = async <T>(path: string, init: RequestInit = {}, token = server.token): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const ok = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const { status, body } = await api<T>(path, init);
    if (status >= 300) throw new Error(`${path}: ${status} ${JSON.stringify(body)}`);
    return body;
  };
  interface RunView {
    status: string;
    tasks: { name: string; status: string; attempt: number; actuator: string | null; outputs: Record<string, string>; error: string | null; attempts: { error: string | null }[] }[];
  }
  const start = async (type: string, body: Record<string, unknown> = {}) => {
    const { eventId } = await ok<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type, body }) });
    const event = await until('event matched', () => ok<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received');
    expect(event.runs).toHaveLength(1);
    return event.runs[0]!.id;
  };
  const context = () => `--- server ---\n${server.output().slice(-3000)}\n--- agents ---\n${agents.map((a) => a.output()).join('\n---\n').slice(-3000)}`;
  const ended = (id: string, ms = 30_000) => until(`run ${id} ended`, () => ok<RunView>(`/api/v1/runs/${id}`), (r) => !['pending', 'running'].includes(r.status), ms, context);
  const logs = async (id: string, task: string) => (await ok<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=${task}`)).lines.map((l) => l.text);
  let edgeToken: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-agents-'));
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      ['server: { port: 0, host: 127.0.0.1 }', `dataDir: ${join(dir, 'data')}`, `sources: [ { name: edge, path: ${resolve('test/fixtures/agents')}, secrets: [ DEPLOY_TOKEN, EDGE2_TOKEN ] } ]`, 'runs: { lease: 2s }', ''].join('\n'),
    );
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_DEPLOY_TOKEN: DEPLOY_TOKEN, EVENTOPS_SECRET_EDGE2_TOKEN: EDGE2_TOKEN } });
    await until('definitions applied', () => ok<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 8);
    edgeToken = (await ok<{ token: string }>('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'edge-1', scopes: ['agent:edge-1'] }) })).token;
  }, 90_000);

  afterAll(async () => {
    for (const agent of agents) await agent.kill('SIGKILL');
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses an agent with a wrong token: it says why and exits 1', async () => {
    const agent = startAgent(server.url, 'edge-1', 'not-the-token', join(dir, 'wrong'));
    agents.push(agent);
    await agent.exited;
    expect(agent.child.exitCode).toBe(1);
    expect(agent.output()).toContain('the server refused the agent (HTTP 401)');
    expect(agent.output()).not.toContain('not-the-token');
  });

  it('an agent token reads nothing of the API', async () => {
    const { status } = await api('/api/v1/runs', {}, edgeToken);
    expect(status).toBe(403);
  });

  it('runs a pipeline on an agent that dialled out: lines, masked secrets, outputs, the next task', async () => {
    const agent = startAgent(server.url, 'edge-1', edgeToken, join(dir, 'edge-1'));
    agents.push(agent);
    const id = await start('agent.hello', { who: 'ops' });
    const run = await ended(id);
    expect(run.status, context()).toBe('succeeded');
    const hello = run.tasks.find((t) => t.name === 'hello')!;
    expect(hello).toMatchObject({ status: 'succeeded', actuator: 'edge/edge', outputs: { greeting: 'hi ops' } });
    expect(hello.outputs.where).toContain(join(dir, 'edge-1'));
    const lines = await logs(id, 'hello');
    expect(lines).toContain('hello ops from the agent');
    expect(lines).toContain('the token is ***');
    expect(lines.join('\n')).not.toContain(DEPLOY_TOKEN);
    expect(await logs(id, 'after')).toContain('after: hi ops');
  });

  it('an agent killed mid-task and restarted: the attempt fails as lost, the retry runs on the restarted agent', async () => {
    const pidfile = join(dir, `pid-${randomBytes(3).toString('hex')}`);
    const id = await start('agent.slow', { pidfile });
    await until('the task started', () => existsSync(pidfile) && readFile(pidfile, 'utf8').then((t) => t.trim() !== ''), Boolean, 20_000, context);
    const sleeper = Number((await readFile(pidfile, 'utf8')).trim());
    const first = agents.find((a) => a.output().includes('agent edge-1: connected') && a.child.exitCode === null)!;
    await first.kill('SIGKILL');
    // The task's own processes outlive a SIGKILLed agent (nothing could stop them); end them here.
    if (processAlive(sleeper)) process.kill(sleeper, 'SIGKILL');
    const again = startAgent(server.url, 'edge-1', edgeToken, join(dir, 'edge-1'));
    agents.push(again);
    const run = await ended(id, 60_000);
    expect(run.status, context()).toBe('succeeded');
    const slow = run.tasks.find((t) => t.name === 'slow')!;
    expect(slow.attempt).toBe(2);
    expect(slow.attempts[0]!.error).toMatch(/restarted while the task ran|lost the connection to agent edge-1/);
    expect(await logs(id, 'slow')).toContain('second attempt');
  });

  it('a task waits, saying so, for an agent that never connected; that agent, authenticated by its actuator\'s token secret, then runs it', async () => {
    expect((await api('/api/v1/agents/edge-2')).status).toBe(404);
    const id = await start('agent.two');
    const waiting = await until('the waiting line', () => logs(id, 'hi'), (lines) => lines.length > 0, 20_000, context);
    expect(waiting).toEqual(["waiting for an agent: edge-2 is not connected (never connected); start `eventops agent --id edge-2` on its host. The task starts when the agent connects, or ends with the run's timeout"]);
    expect((await ok<RunView>(`/api/v1/runs/${id}`)).tasks[0]!.status).toBe('queued');
    const agent = startAgent(server.url, 'edge-2', EDGE2_TOKEN, join(dir, 'edge-2'));
    agents.push(agent);
    const run = await ended(id);
    expect(run.status, context()).toBe('succeeded');
    const lines = await logs(id, 'hi');
    expect(lines).toContain('edge-2 here');
    // Written once per attempt, however often the task's job passed by while it was queued.
    expect(lines.filter((l) => l.startsWith('waiting for an agent'))).toHaveLength(1);
    interface AgentView { id: string; connected: boolean; runs: string[]; worker: string; disconnectedAt: string | null }
    const listed = await ok<{ items: AgentView[] }>('/api/v1/agents');
    expect(listed.items.find((a) => a.id === 'edge-2')).toMatchObject({ connected: true, runs: ['local'], worker: `${hostname()}:${server.pid}`, disconnectedAt: null });
    await agent.kill('SIGTERM');
    const after = await until('the agent shown disconnected', () => ok<AgentView>('/api/v1/agents/edge-2'), (a) => !a.connected, 20_000, context);
    expect(after.disconnectedAt).not.toBeNull();
  });
});

describe('an agent started with --docker-host runs tasks that name an image in containers', () => {
  let dir: string;
  let server: ServerProcess;
  let dockerd: TestDockerd;
  let agent: AgentProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-agents-docker-'));
    dockerd = await startDockerd();
    const config = join(dir, 'eventops.yaml');
    await writeFile(config, ['server: { port: 0, host: 127.0.0.1 }', `dataDir: ${join(dir, 'data')}`, `sources: [ { name: edge, path: ${resolve('test/fixtures/agents')}, secrets: [ DEPLOY_TOKEN, EDGE2_TOKEN ] } ]`, ''].join('\n'));
    server = await startServerProcess({ config, dataDir: join(dir, 'data'), env: { EVENTOPS_SECRET_DEPLOY_TOKEN: DEPLOY_TOKEN, EVENTOPS_SECRET_EDGE2_TOKEN: EDGE2_TOKEN } });
  }, 120_000);

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await server?.stop();
    await dockerd?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('a task with commands runs in the image, one without runs the image as built; secrets masked, outputs passed on', async () => {
    const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
      const body = (await res.json()) as T;
      if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    };
    const context = () => `--- server ---\n${server.output().slice(-2000)}\n--- agent ---\n${agent?.output().slice(-2000)}`;
    await until('definitions applied', () => call<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 11, 30_000, context);
    agent = spawnAgent(['--docker-host', dockerd.host], server.url, 'edge-3', EDGE2_TOKEN, join(dir, 'edge-3'));
    const { eventId } = await call<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'agent.image', body: {} }) });
    const event = await until('event matched', () => call<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received' && e.runs.length > 0, 30_000, context);
    const id = event.runs[0]!.id;
    const run = await until('run ended', () => call<{ status: string; tasks: { name: string; outputs: Record<string, string> }[] }>(`/api/v1/runs/${id}`), (r) => !['pending', 'running'].includes(r.status), 60_000, context);
    expect(run.status, context()).toBe('succeeded');
    expect(run.tasks.find((t) => t.name === 'boxed')!.outputs).toEqual({ kernel: 'Linux' });
    expect(run.tasks.find((t) => t.name === 'as-built')!.outputs).toEqual({ answer: '42' });
    const lines = async (task: string) => (await call<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=${task}`)).lines.map((l) => l.text);
    expect(await lines('boxed')).toContain('in a container as 0, token ***');
    expect(await lines('as-built')).toContain('hello Linux as 1000 in /data');
    // The containers were removed after their attempts.
    expect(await dockerd.docker.listContainers({ all: true, filters: { label: ['dev.eventops.managed'] } })).toEqual([]);
  }, 120_000);
});

describe('an agent connected to the api process, tasks matched and started by a worker process (PostgreSQL, Redis)', () => {
  let dir: string;
  let database: TestDatabase;
  let api: ServerProcess;
  let worker: ServerProcess;
  let agent: AgentProcess | undefined;
  const prefix = `eventops-agents-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-agents-split-'));
    database = await createTestDatabase();
    const config = join(dir, 'eventops.yaml');
    await writeFile(
      config,
      ['server: { port: 0, host: 127.0.0.1 }', `dataDir: ${join(dir, 'data')}`, `sources: [ { name: edge, path: ${resolve('test/fixtures/agents')}, secrets: [ DEPLOY_TOKEN, EDGE2_TOKEN ] } ]`, 'runs: { lease: 2s }', `redis: { prefix: ${prefix} }`, ''].join('\n'),
    );
    const env = { DATABASE_URL: database.url, REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', EVENTOPS_SECRET_DEPLOY_TOKEN: DEPLOY_TOKEN, EVENTOPS_SECRET_EDGE2_TOKEN: EDGE2_TOKEN };
    worker = await startServerProcess({ config, dataDir: join(dir, 'data'), env, roles: 'worker,reconciler' });
    api = await startServerProcess({ config, dataDir: join(dir, 'data'), env, roles: 'api' });
  }, 90_000);

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await api?.stop();
    await worker?.stop();
    await database?.drop();
    const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs the agent task in the process the agent is connected to', async () => {
    const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${api.url}${path}`, { ...init, headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' } });
      const body = (await res.json()) as T;
      if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    };
    const context = () => `--- api ---\n${api.output().slice(-2000)}\n--- worker ---\n${worker.output().slice(-2000)}\n--- agent ---\n${agent?.output().slice(-2000)}`;
    await until('definitions applied', () => call<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 8, 30_000, context);
    agent = startAgent(api.url, 'edge-2', EDGE2_TOKEN, join(dir, 'edge-2'));
    await until('the agent connected', () => agent!.output(), (out) => out.includes('connected to'), 20_000, context);
    const { eventId } = await call<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type: 'agent.two', body: {} }) });
    const event = await until('event matched', () => call<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received' && e.runs.length > 0, 30_000, context);
    const run = await until('run ended', () => call<{ status: string }>(`/api/v1/runs/${event.runs[0]!.id}`), (r) => !['pending', 'running'].includes(r.status), 30_000, context);
    expect(run.status, context()).toBe('succeeded');
    const lines = (await call<{ lines: { text: string }[] }>(`/api/v1/runs/${event.runs[0]!.id}/logs?task=hi`)).lines.map((l) => l.text);
    expect(lines).toContain('edge-2 here');
    // The attempt line names the worker that ran it: the api process (its pid), not the worker process.
    expect(lines.find((l) => l.startsWith('attempt 1 on actuator edge/edge-two'))).toContain(`:${api.pid})`);
  });
});
