// The SSH runner against a real OpenSSH server on this machine, logging in as a non-root test
// user: the shared conformance suite, then what only SSH can show: key (plain and with a
// passphrase) and password logins, the pinned host key (a wrong or missing one runs nothing),
// one connection reused across attempts, no process of a task outliving it, and a connection
// dropped mid-attempt.
import { createHash, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BANNER_LINES, startSshd, type TestSshd } from '../test/helpers/sshd.js';
import { runnerConformance } from './conformance.js';
import { processAlive, signalGroup } from './process-group.js';
import type { LogLine, Runner, TaskExecution } from './runner.js';
import { createSshRunner, type SshRunnerOptions } from './ssh-runner.js';

runnerConformance('ssh', async () => {
  const sshd = await startSshd();
  const runner = createSshRunner({ host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey });
  return {
    runner,
    async cleanup() {
      await runner.close();
      await sshd.close();
    },
  };
});

/** `SHA256:…` of a `type base64` public key line, as ssh-keygen -l prints it. */
function fingerprintOf(line: string): string {
  const blob = Buffer.from(line.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The attempt folders (`eventops-<24 hex>`) the test user has in /tmp. */
function userFolders(uid: number): string[] {
  return readdirSync('/tmp').filter((name) => /^eventops-[0-9a-f]{24}$/.test(name) && statSync(join('/tmp', name)).uid === uid);
}

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe('ssh runner', () => {
  let sshd: TestSshd;
  const runners: Runner[] = [];
  const started: number[] = [];
  const groups: number[] = [];
  beforeAll(async () => {
    sshd = await startSshd({ password: true });
  });
  afterAll(async () => {
    await Promise.all(runners.map((r) => r.close()));
    await sshd?.close();
  });
  // A test that fails half-way must not leave its sleepers behind (they run on this machine).
  afterEach(() => {
    for (const pgid of groups.splice(0)) signalGroup(pgid, 'SIGKILL');
    for (const pid of started.splice(0)) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  const runnerWith = (options: Partial<SshRunnerOptions> = {}): Runner => {
    const runner = createSshRunner({ host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey, ...options });
    runners.push(runner);
    return runner;
  };

  const run = async (runner: Runner, execution: Partial<TaskExecution>, options: { signal?: AbortSignal; onLine?: (line: LogLine) => void } = {}) => {
    const lines: LogLine[] = [];
    const result = await runner.run(
      { runId: randomUUID(), task: 'ssh', attempt: 1, commands: [], env: {}, outputs: [], secrets: [], ...execution },
      {
        signal: options.signal ?? new AbortController().signal,
        onLine: (line) => {
          lines.push(line);
          options.onLine?.(line);
        },
      },
    );
    const of = (stream: LogLine['stream']) => lines.filter((l) => l.stream === stream).map((l) => l.text);
    const pids = of('stdout').flatMap((text) => (/^pid \d+$/.test(text) ? [Number(text.slice(4))] : []));
    started.push(...pids);
    groups.push(...of('stdout').flatMap((text) => (/^group \d+$/.test(text) ? [Number(text.slice(6))] : [])));
    return { result, lines, pids, stdout: of('stdout'), stderr: of('stderr'), system: of('system') };
  };

  /** A background sleeper, its pid printed, then a foreground one: a task with a process tree (its group printed for afterEach). */
  const tree = ['echo "folder $EVENTOPS_WORKSPACE"', 'echo "group $$"', 'sleep 300 & echo "pid $!"', 'sleep 300'];
  const folderOf = (stdout: string[]) => stdout.find((l) => l.startsWith('folder '))?.slice('folder '.length).replace(/\/work$/, '') ?? '';

  it('runs as the non-root user, in a folder under its own TMPDIR that is gone afterwards', async () => {
    const { result, stdout } = await run(runnerWith(), { commands: ['id -u', 'echo "$HOME"', 'echo "$EVENTOPS_WORKSPACE"', 'echo "$TMPDIR"'] });
    expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
    const [uid, home, workspace, tmp] = stdout;
    expect(Number(uid)).toBe(sshd.uid);
    expect(Number(uid)).not.toBe(0);
    expect(home).toBe(sshd.home);
    expect(home).not.toMatch(/^\/root/);
    expect(workspace).toMatch(/^\/tmp\/eventops-[0-9a-f]{24}\/work$/);
    expect(tmp).toBe(workspace!.replace(/\/work$/, '/private/tmp'));
    expect(existsSync(workspace!.replace(/\/work$/, ''))).toBe(false);
  });

  it('logs in with a password', async () => {
    const runner = runnerWith({ privateKey: undefined, password: sshd.password! });
    const { result, stdout } = await run(runner, { commands: ['echo "hello from $(id -un)"'] });
    expect(result.status).toBe('succeeded');
    expect(stdout).toEqual([`hello from ${sshd.user}`]);
    expect(sshd.log.some((line) => line.startsWith(`Accepted password for ${sshd.user}`))).toBe(true);
  });

  it('fails clearly on a wrong password, without printing it', async () => {
    const wrong = `wrong-${randomUUID()}`;
    const { result, stdout } = await run(runnerWith({ privateKey: undefined, password: wrong }), { commands: ['echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain(`could not log in to 127.0.0.1:${sshd.port} as ${sshd.user}`);
    expect(result.error).not.toContain(wrong);
    expect(stdout).toEqual([]);
  });

  it('logs in with a passphrase-protected key; a wrong or missing passphrase fails clearly, quoting neither key nor passphrase', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eventops-ssh-key-'));
    const passphrase = `pass-${randomUUID()}`;
    let key: string;
    try {
      // The new OpenSSH format (bcrypt KDF, aes256-ctr), ssh-keygen's default.
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'eventops-test-encrypted', '-f', join(dir, 'key')]);
      key = readFileSync(join(dir, 'key'), 'utf8');
      await sshd.authorize(readFileSync(join(dir, 'key.pub'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(key).toContain('-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(ssh2.utils.parseKey(key)).toBeInstanceOf(Error); // really encrypted

    const { result, stdout } = await run(runnerWith({ privateKey: key, passphrase }), { commands: ['echo "hello from $(id -un)"'] });
    expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
    expect(stdout).toEqual([`hello from ${sshd.user}`]);

    const base = { host: sshd.host, port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, privateKey: key };
    const keyLine = key.split('\n')[1]!;
    const wrong = `wrong-${randomUUID()}`;
    for (const [options, words] of [
      [base, 'the private key cannot be used: it is encrypted and no passphrase is given: set the ssh actuator\'s `passphrase: { secret: NAME }`'],
      [{ ...base, passphrase: wrong }, 'the private key cannot be used: the passphrase does not decrypt it'],
    ] as const) {
      let message = '';
      try {
        createSshRunner(options);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain(`ssh actuator ${sshd.user}@127.0.0.1:${sshd.port}: ${words}`);
      expect(message).not.toContain(keyLine);
      expect(message).not.toContain(wrong);
      expect(message).not.toContain(passphrase);
    }
    expect(() => createSshRunner({ ...base, privateKey: undefined, password: 'x', passphrase })).toThrow('a passphrase is given but no privateKey');
  });

  it('refuses a host whose key is not the pinned one, and runs nothing there', async () => {
    const other = ssh2.utils.generateKeyPairSync('ed25519').public;
    const marker = `/tmp/eventops-marker-${randomUUID()}`;
    const logins = sshd.logins();
    const { result, stdout } = await run(runnerWith({ hostKey: other }), { commands: [`touch ${marker}`, 'echo ran'] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain(`the host key of 127.0.0.1:${sshd.port} does not match the pinned one`);
    expect(result.error).toContain(`expected ssh-ed25519 ${fingerprintOf(other)}`);
    expect(result.error).toContain(`offered ssh-ed25519 ${fingerprintOf(sshd.hostKey)}`);
    expect(stdout).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect(sshd.logins()).toBe(logins);
  });

  it('without a pinned host key, runs nothing and prints the key offered so it can be pinned', async () => {
    const marker = `/tmp/eventops-marker-${randomUUID()}`;
    const logins = sshd.logins();
    const { result } = await run(runnerWith({ hostKey: undefined }), { commands: [`touch ${marker}`] });
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain(`no host key is pinned for 127.0.0.1:${sshd.port}`);
    expect(result.error).toContain(`ssh-ed25519 ${fingerprintOf(sshd.hostKey)}`);
    expect(result.error).toContain(sshd.hostKey.split(' ').slice(0, 2).join(' '));
    expect(existsSync(marker)).toBe(false);
    expect(sshd.logins()).toBe(logins);
  });

  it('fails clearly when nothing listens, or the host does not speak SSH in time; a cancel while connecting runs nothing', async () => {
    const silent = createServer((socket) => socket.on('error', () => undefined)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as AddressInfo).port;
    try {
      const refused = await run(runnerWith({ port: await closedPort() }), { commands: ['echo ran'] });
      expect(refused.result).toMatchObject({ status: 'failed', exitCode: null });
      expect(refused.result.error).toMatch(/^could not connect to 127\.0\.0\.1:\d+: connect ECONNREFUSED/);

      const slow = await run(runnerWith({ port: silentPort, connectTimeoutMs: 500 }), { commands: ['echo ran'] });
      expect(slow.result).toMatchObject({ status: 'failed', exitCode: null, error: `could not connect to 127.0.0.1:${silentPort}: no SSH handshake within 500ms (is the host reachable, and is it an SSH server?)` });

      const abort = new AbortController();
      setTimeout(() => abort.abort(), 200);
      const t0 = Date.now();
      const cancelled = await run(runnerWith({ port: silentPort, connectTimeoutMs: 5_000 }), { commands: ['echo ran'] }, { signal: abort.signal });
      expect(cancelled.result).toMatchObject({ status: 'cancelled', exitCode: null, error: 'cancelled' });
      expect(cancelled.system).toEqual(['cancelled before it started']);
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      silent.close();
    }
  });

  it('refuses options that can never work, without connecting', () => {
    const base = { host: sshd.host, port: sshd.port, user: sshd.user, hostKey: sshd.hostKey };
    expect(() => createSshRunner(base)).toThrow('give a privateKey or a password');
    expect(() => createSshRunner({ ...base, privateKey: 'not a key' })).toThrow('the private key cannot be used');
    expect(() => createSshRunner({ ...base, privateKey: sshd.hostKey })).toThrow('the private key cannot be used: it is a public key');
    expect(() => createSshRunner({ ...base, privateKey: sshd.privateKey, hostKey: 'ssh-ed25519 not-base64!' })).toThrow('has no base64 key data');
    expect(() => createSshRunner({ ...base, privateKey: sshd.privateKey, hostKey: `ssh-rsa ${sshd.hostKey.split(' ')[1]}` })).toThrow('not a ssh-rsa key');
    // A known_hosts line (host field first, comment last) is accepted.
    expect(() => createSshRunner({ ...base, privateKey: sshd.privateKey, hostKey: `[127.0.0.1]:${sshd.port} ${sshd.hostKey}` })).not.toThrow();
  });

  it('reuses one connection for attempts in a row and side by side', async () => {
    const runner = runnerWith();
    const logins = sshd.logins();
    for (let i = 0; i < 4; i++) expect((await run(runner, { commands: [`echo ${i}`] })).stdout).toEqual([`${i}`]);
    const side = await Promise.all([1, 2, 3].map((i) => run(runner, { commands: ['sleep 0.3', `echo ${i}`] })));
    expect(side.map((a) => a.stdout)).toEqual([['1'], ['2'], ['3']]);
    expect(sshd.logins() - logins).toBe(1);
  });

  it('opens another connection beyond sessionsPerConnection, and all attempts succeed', async () => {
    const runner = runnerWith({ sessionsPerConnection: 2 });
    const logins = sshd.logins();
    const attempts = await Promise.all([1, 2, 3, 4, 5].map((i) => run(runner, { commands: ['sleep 0.5', `echo ${i}`] })));
    expect(attempts.map((a) => [a.result.status, a.stdout])).toEqual([1, 2, 3, 4, 5].map((i) => ['succeeded', [`${i}`]]));
    expect(sshd.logins() - logins).toBeGreaterThanOrEqual(3);
  });

  it('opens another connection when the server allows fewer sessions than sessionsPerConnection', async () => {
    // The test sshd has MaxSessions 10.
    const runner = runnerWith({ sessionsPerConnection: 30 });
    const logins = sshd.logins();
    const attempts = await Promise.all(Array.from({ length: 14 }, (_, i) => run(runner, { commands: ['sleep 0.5', `echo ${i}`] })));
    expect(attempts.map((a) => [a.result.status, a.stdout])).toEqual(Array.from({ length: 14 }, (_, i) => ['succeeded', [`${i}`]]));
    expect(sshd.logins() - logins).toBeGreaterThanOrEqual(2);
  });

  it('kills the whole remote process tree on timeout, and removes the folder', async () => {
    const { result, pids, stdout, stderr, system } = await run(runnerWith(), { timeoutMs: 500, commands: tree });
    expect(result).toMatchObject({ status: 'timed_out', exitCode: null, error: 'timed out after 500ms' });
    expect(system).toEqual(['timed out after 500ms: stopping the task (SIGTERM to its processes)']);
    expect(stderr).toEqual([]); // no "Terminated" from the wrapper's shell
    expect(pids).toHaveLength(1);
    expect(processAlive(pids[0]!)).toBe(false);
    expect(existsSync(folderOf(stdout))).toBe(false);
  });

  it('kills the whole remote process tree on cancel, and removes the folder', async () => {
    const abort = new AbortController();
    const { result, pids, stdout, stderr, system } = await run(runnerWith(), { commands: tree }, { signal: abort.signal, onLine: (line) => line.text.startsWith('pid ') && abort.abort() });
    expect(result).toMatchObject({ status: 'cancelled', exitCode: null, error: 'cancelled' });
    expect(system).toEqual(['cancelled: stopping the task (SIGTERM to its processes)']);
    expect(stderr).toEqual([]);
    expect(processAlive(pids[0]!)).toBe(false);
    expect(existsSync(folderOf(stdout))).toBe(false);
  });

  it('kills what a succeeded task left running in the background', async () => {
    const t0 = Date.now();
    const { result, pids, stdout } = await run(runnerWith(), { commands: ['echo "folder $EVENTOPS_WORKSPACE"', 'sleep 300 & echo "pid $!"', 'echo done'] });
    expect(result.status).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(processAlive(pids[0]!)).toBe(false);
    expect(existsSync(folderOf(stdout))).toBe(false);
  });

  it('gives processes that ignore SIGTERM the grace period, then SIGKILLs them', async () => {
    const t0 = Date.now();
    const { result, pids, system, stderr } = await run(runnerWith({ killGraceMs: 700 }), { timeoutMs: 300, commands: ["trap '' TERM", 'sleep 300 & echo "pid $!"', 'sleep 300'] });
    const ms = Date.now() - t0;
    expect(result.status).toBe('timed_out');
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(6_000);
    expect(system).toContain('still running 700ms after SIGTERM: SIGKILL');
    expect(stderr).toEqual([]);
    expect(processAlive(pids[0]!)).toBe(false);
  });

  it('masks secrets in lines of both streams and in the error', async () => {
    const secret = `pa55-${randomUUID()}`;
    const { result, lines } = await run(runnerWith(), { env: { S: secret }, secrets: [secret], commands: ['echo "out $S"', 'echo "err $S" >&2', 'exit 2'], outputs: [] });
    expect(result).toMatchObject({ status: 'failed', exitCode: 2 });
    expect(lines.filter((l) => l.stream !== 'system').map((l) => `${l.stream}: ${l.text}`)).toEqual(['stdout: out ***', 'stderr: err ***']);
    const missing = await run(runnerWith(), { secrets: [secret], commands: ['true'], outputs: [{ name: 'x', fromFile: `${secret}.txt` }] });
    expect(missing.result.error).toBe('output "x": file "***.txt" does not exist in the work folder');
  });

  it('fails an attempt whose connection drops, and reconnects for the next one, stopping what was left', async () => {
    const runner = runnerWith({ connectTimeoutMs: 2_000 });
    let killed: Promise<void> | undefined;
    const { result, pids, stdout } = await run(runner, { commands: tree }, { onLine: (line) => void (line.text.startsWith('pid ') && (killed = sshd.kill())) });
    await killed;
    expect(result).toMatchObject({ status: 'failed', exitCode: null });
    expect(result.error).toContain(`the connection to 127.0.0.1:${sshd.port} was lost while the task ran`);
    expect(result.error).toContain('it may still be running there');
    // Out of reach while sshd is down: the task really is still running.
    expect(processAlive(pids[0]!)).toBe(true);

    await sshd.start();
    const next = await run(runner, { commands: ['echo back'] });
    expect(next.result.status).toBe('succeeded');
    expect(next.stdout).toEqual(['back']);
    // Once connected again, the runner stops the lost task and removes its folder.
    expect(await waitFor(() => !processAlive(pids[0]!), 10_000)).toBe(true);
    expect(await waitFor(() => !existsSync(folderOf(stdout)), 10_000)).toBe(true);
  }, 40_000);

  it("reads the results whole when the user's shell rc prints to stdout in every session", async () => {
    const runner = runnerWith({ user: sshd.rcUser });
    const { result, stdout } = await run(runner, {
      commands: ['echo "as $(id -un)"', 'echo "answer=42" >> "$EVENTOPS_OUTPUT"', 'export VERSION=1.2.3', 'echo "report" > report.txt'],
      outputs: [{ name: 'version', fromEnv: 'VERSION' }, { name: 'report', fromFile: 'report.txt' }],
    });
    expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { answer: '42', version: '1.2.3', report: 'report' } });
    // The rc's banner really is printed (it comes before the wrapper runs, so it is the task's first lines).
    expect(stdout).toEqual([...BANNER_LINES.slice(0, -1), `${BANNER_LINES.at(-1)}as ${sshd.rcUser}`]);
    const failed = await run(runner, { commands: ['exit 4'] });
    expect(failed.result).toMatchObject({ status: 'failed', exitCode: 4, error: 'exit code 4' });
  });

  it('rejects a run after close(), and close() is idempotent', async () => {
    const runner = runnerWith();
    expect((await run(runner, { commands: ['true'] })).result.status).toBe('succeeded');
    await runner.close();
    await runner.close();
    await expect(run(runner, { commands: ['true'] })).rejects.toThrow('closed');
  });

  it('leaves no attempt folder behind in the user\'s /tmp', () => {
    expect(userFolders(sshd.uid)).toEqual([]);
  });
});
