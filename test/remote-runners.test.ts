// SSH and Docker actuators through `eventops serve`: the definitions name a real sshd (key from a
// secret, host key pinned) and a real dockerd (TLS client certificate from secrets); an event
// runs a pipeline whose first task runs over SSH and whose second runs in a container with the
// first one's output, and a third pipeline's SSH actuator pins the wrong host key.
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type TestDockerd } from './helpers/dockerd.js';
import { startServerProcess, type ServerProcess } from './helpers/server-process.js';
import { startSshd, type TestSshd } from './helpers/sshd.js';

describe('ssh and docker actuators through eventops serve', () => {
  let dir: string;
  let sshd: TestSshd;
  let dockerd: TestDockerd;
  let server: ServerProcess;

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' } });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const until = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value).slice(0, 1500)}\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  interface RunView {
    status: string;
    tasks: { name: string; status: string; actuator: string | null; outputs: Record<string, string>; error: string | null }[];
  }
  const runOf = async (type: string): Promise<RunView & { id: string }> => {
    const { eventId } = await api<{ eventId: string }>('/api/v1/events', { method: 'POST', body: JSON.stringify({ type, body: { who: 'ops' } }) });
    const event = await until('event matched', () => api<{ status: string; runs: { id: string }[] }>(`/api/v1/events/${eventId}`), (e) => e.status !== 'received' && e.runs.length > 0);
    const id = event.runs[0]!.id;
    const run = await until(`run ${id} ended`, () => api<RunView>(`/api/v1/runs/${id}`), (r) => !['pending', 'running'].includes(r.status));
    return { ...run, id };
  };
  const logs = async (id: string, task: string) => (await api<{ lines: { text: string }[] }>(`/api/v1/runs/${id}/logs?task=${task}`)).lines.map((l) => l.text);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eventops-remote-'));
    [sshd, dockerd] = await Promise.all([startSshd(), startDockerd()]);
    const defs = join(dir, 'defs');
    await mkdir(defs);
    // A real key, but not the server's.
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other-host-key')]);
    const wrongKey = (await readFile(join(dir, 'other-host-key.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    await writeFile(
      join(defs, 'remote.yaml'),
      `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: build-host }
spec:
  tags: [build]
  ssh: { host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, privateKey: { secret: BUILD_HOST_KEY }, hostKey: "${sshd.hostKey}" }
---
apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: impostor }
spec:
  tags: [impostor]
  ssh: { host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, privateKey: { secret: BUILD_HOST_KEY }, hostKey: "${wrongKey}" }
---
apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: containers }
spec:
  tags: [containers]
  docker: { host: "${dockerd.tls.host}", tls: { ca: { secret: DOCKER_CA }, cert: { secret: DOCKER_CERT }, key: { secret: DOCKER_KEY } } }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: build-and-pack }
spec:
  inputs: [ { name: who, type: string } ]
  tasks:
    - name: build
      type: ssh
      actuatorSelector: { tags: [build] }
      env: { WHO: "\${{ inputs.who }}" }
      commands:
        - echo "building for $WHO as $(id -un)"
        - echo "artifact=built-by-$(id -un)" >> "$EVENTOPS_OUTPUT"
      outputs: [ { name: artifact } ]
    - name: pack
      type: docker
      needs: [build]
      image: ${dockerd.image}
      resources: { cpu: 500m, memory: 64Mi }
      actuatorSelector: { tags: [containers] }
      env: { ARTIFACT: "\${{ tasks.build.outputs.artifact }}" }
      commands:
        - echo "packing $ARTIFACT"
        - echo "$ARTIFACT.tar" > out.txt
      outputs: [ { name: package, fromFile: out.txt } ]
  outputs:
    - { name: package, value: "\${{ tasks.pack.outputs.package }}" }
---
apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: impostor }
spec:
  tasks:
    - { name: run, type: ssh, actuatorSelector: { tags: [impostor] }, commands: [ "echo must not run" ] }
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: build }
spec:
  event: { source: api, type: remote.build }
  pipelines: [ { name: build-and-pack, inputs: { who: "\${{ event.body.who }}" } } ]
---
apiVersion: eventops.dev/v1
kind: Trigger
metadata: { name: impostor }
spec:
  event: { source: api, type: remote.impostor }
  pipelines: [ { name: impostor } ]
`,
    );
    const config = join(dir, 'eventops.yaml');
    await writeFile(config, ['server: { port: 0, host: 127.0.0.1 }', `dataDir: ${join(dir, 'data')}`, `sources: [ { name: remote, path: ${defs}, secrets: [ BUILD_HOST_KEY, DOCKER_CA, DOCKER_CERT, DOCKER_KEY ] } ]`, ''].join('\n'));
    server = await startServerProcess({
      config,
      dataDir: join(dir, 'data'),
      env: { EVENTOPS_SECRET_BUILD_HOST_KEY: sshd.privateKey, EVENTOPS_SECRET_DOCKER_CA: dockerd.tls.ca, EVENTOPS_SECRET_DOCKER_CERT: dockerd.tls.cert, EVENTOPS_SECRET_DOCKER_KEY: dockerd.tls.key },
    });
    await until('definitions applied', () => api<{ total: number }>('/api/v1/definitions'), (d) => d.total >= 7);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await Promise.all([sshd?.close(), dockerd?.stop()]);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs a task over SSH as the actuator user, then one in a container with its output', async () => {
    const run = await runOf('remote.build');
    expect(run.status, JSON.stringify(run)).toBe('succeeded');
    expect(run.tasks.find((t) => t.name === 'build')).toMatchObject({ actuator: 'remote/build-host', outputs: { artifact: `built-by-${sshd.user}` } });
    expect(run.tasks.find((t) => t.name === 'pack')).toMatchObject({ actuator: 'remote/containers', outputs: { package: `built-by-${sshd.user}.tar` } });
    expect(await logs(run.id, 'build')).toContain(`building for ops as ${sshd.user}`);
    expect(await logs(run.id, 'pack')).toContain(`packing built-by-${sshd.user}`);
    const left = await dockerd.docker.listContainers({ all: true, filters: { label: ['dev.eventops.managed=true'] } });
    expect(left).toEqual([]);
  });

  it('fails a task whose SSH server offers another host key, before anything runs', async () => {
    const run = await runOf('remote.impostor');
    expect(run.status).toBe('failed');
    const task = run.tasks.find((t) => t.name === 'run')!;
    expect(task.error).toMatch(/host key/i);
    expect(task.error).not.toContain('PRIVATE KEY');
    expect(await logs(run.id, 'run')).not.toContain('must not run');
  });
});
