// A real OpenSSH server for tests: `sshd` on a free port of 127.0.0.1 with its own host key,
// logging in a dedicated non-root user (`eventops-test`, created when missing) with a generated
// client key, or a password when asked. A second user (`eventops-test-rc`, the same key) has bash
// as its login shell and a ~/.bashrc that prints a banner, as many hosts' rc files do: sshd runs
// every exec request through the login shell, and Debian's bash reads ~/.bashrc then. Its log (LogLevel VERBOSE) is kept, so a test can count
// the logins it accepted. `kill()` ends it the hard way, with every connection it serves (the
// users' own processes are left alone, as after a crash), and `start()` brings it back on the
// same port with the same keys. Installing sshd and creating the user need root.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The user the tests log in as; never root, home under /home. */
export const TEST_USER = 'eventops-test';
/** A user whose shell rc prints BANNER_LINES to stdout (for every SSH exec session). */
export const RC_TEST_USER = 'eventops-test-rc';
/** What RC_TEST_USER's ~/.bashrc prints: lines that look like results, and a last one without a newline. */
export const BANNER_LINES = ['exit 7', 'Welcome to the build host (managed by config management)', 'end', 'no newline after this'];

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  /** The user's id and home folder on this machine. */
  uid: number;
  home: string;
  /** RC_TEST_USER, who logs in with the same key (and password). */
  rcUser: string;
  /** The client's private key (OpenSSH format), authorized for `user`. */
  privateKey: string;
  /** The server's public key as `ssh-ed25519 AAAA…`, to pin. */
  hostKey: string;
  /** The user's password, when `startSshd({ password: true })`. */
  password?: string;
  /** Adds a public key line (`ssh-ed25519 AAAA… comment`) to the keys `user` may log in with, at once. */
  authorize(publicKey: string): Promise<void>;
  /** Every line sshd logged, oldest first. */
  log: string[];
  /** How many logins sshd accepted so far (one per SSH connection). */
  logins(): number;
  /** SIGKILL to sshd and every connection process it serves; resolves once the port refuses connections. */
  kill(): Promise<void>;
  /** Starts it again (after `kill`) on the same port with the same keys. */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

/** Starts sshd for TEST_USER; installs openssh-server and creates the user first when needed (as root). */
export async function startSshd(options: { password?: boolean } = {}): Promise<TestSshd> {
  const sshd = await sshdBinary();
  if (process.getuid?.() !== 0) throw new Error('the SSH tests start their own sshd and log in as a test user, which needs root: run them as root');
  const account = await testUser(TEST_USER, '/bin/sh', ['/bin/sh', '/bin/bash', '/usr/bin/bash', '/bin/dash']);
  const rcAccount = await testUser(RC_TEST_USER, '/bin/bash', ['/bin/bash', '/usr/bin/bash']);
  // The banner goes to stdout on purpose: that is what corrupts what a runner reads back.
  await writeFile(join(rcAccount.home, '.bashrc'), `${BANNER_LINES.map((line, i) => (i === BANNER_LINES.length - 1 ? `printf '%s' ${JSON.stringify(line)}` : `echo ${JSON.stringify(line)}`)).join('\n')}\n`, { mode: 0o644 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  // Readable by the user: sshd reads authorized_keys with the user's rights.
  const dir = await mkdtemp(join(tmpdir(), 'eventops-sshd-'));
  await chmod(dir, 0o755);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'eventops-test-host', '-f', join(dir, 'host_key')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'eventops-test-client', '-f', join(dir, 'client_key')]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')), { mode: 0o644 });
  let password: string | undefined;
  if (options.password) {
    password = randomBytes(18).toString('base64url');
    await runWithInput('chpasswd', [], `${TEST_USER}:${password}\n${RC_TEST_USER}:${password}\n`);
  }
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      // The keys live under /tmp, which is world-writable: StrictModes would refuse them.
      'StrictModes no',
      'UsePAM no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${password === undefined ? 'no' : 'yes'}`,
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${TEST_USER} ${RC_TEST_USER}`,
      'LogLevel VERBOSE',
      'UseDNS no',
      'PrintMotd no',
      'MaxSessions 10',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const hostKey = (await readFile(join(dir, 'host_key.pub'), 'utf8')).trim();
  const privateKey = await readFile(join(dir, 'client_key'), 'utf8');

  const log: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const started = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let buffered = '';
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (text: string) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      log.push(...lines);
    });
    exited = new Promise((resolve) => started.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + 10_000;
    while (!(await accepting(port))) {
      if (gone) throw new Error(`sshd exited at start (${sshd} -D -e -f ${config}):\n${log.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10s:\n${log.join('\n')}`);
      await delay(50);
    }
  };

  /** Ends the running sshd; with `graceMs`, its connections first get that long to end by themselves. */
  const stop = async (graceMs: number) => {
    const pid = child?.pid;
    const gone = exited;
    child = undefined; // a start() while this runs gets a child of its own
    if (pid === undefined) return;
    const deadline = Date.now() + graceMs;
    while (sshdTree(pid).length > 0 && Date.now() < deadline) await delay(20);
    // Each connection's sshd is a child of the listener (in a session of its own), with an
    // unprivileged child of its own: the sshd processes go deepest first, so each is reaped by
    // its parent rather than left a zombie; the users' shells stay, as after a crash.
    for (let level = sshdTree(pid); level.length > 0; level = sshdTree(pid)) {
      const deepest = Math.max(...level.map((p) => p.depth));
      const targets = level.filter((p) => p.depth === deepest).map((p) => p.pid);
      for (const target of targets) signal(target, 'SIGKILL');
      const until = Date.now() + 1_000;
      while (Date.now() < until && sshdTree(pid).some((p) => targets.includes(p.pid))) await delay(10);
      if (sshdTree(pid).some((p) => targets.includes(p.pid))) break; // a parent that does not reap: leave it to the kernel
    }
    signal(pid, 'SIGKILL');
    await gone;
    while (await accepting(port)) await delay(20);
  };

  try {
    await start();
  } catch (error) {
    await stop(0);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    user: TEST_USER,
    uid: account.uid,
    home: account.home,
    rcUser: RC_TEST_USER,
    privateKey,
    hostKey,
    ...(password === undefined ? {} : { password }),
    log,
    authorize: (publicKey) => appendFile(join(dir, 'authorized_keys'), `${publicKey.trim()}\n`),
    logins: () => log.filter((line) => /^Accepted (publickey|password|keyboard-interactive\S*) for /.test(line)).length,
    kill: () => stop(0),
    start,
    async close() {
      await stop(2_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The sshd binary; installs openssh-server when it is missing and we are root. */
/** openssh-server is installed once by test/global-setup.ts (as root); here only checked. */
async function sshdBinary(): Promise<string> {
  const path = '/usr/sbin/sshd';
  if (!existsSync(path)) throw new Error(`sshd is not installed (${path}): apt-get install openssh-server, or run the tests as root so the test set-up installs it`);
  return path;
}

/** The id and home of the test user `name`, creating it (login shell `shell`, a home of its own) when missing; its shell must be one of `accepted`. */
async function testUser(name: string, shell: string, accepted: string[]): Promise<{ uid: number; home: string }> {
  let entry = passwdEntry(name);
  if (!entry) {
    // `-p '*'`: no password, but not locked either (sshd without PAM refuses keys of a locked account).
    await run('useradd', ['-m', '-s', shell, '-p', '*', name]).catch(async (error: unknown) => {
      if (!passwdEntry(name)) throw error; // another test file created it meanwhile
    });
    entry = passwdEntry(name);
  }
  if (!entry) throw new Error(`could not create the user ${name}`);
  if (entry.uid === 0 || entry.home === '/root' || entry.home === '/') throw new Error(`the user ${name} must not be root nor live in ${entry.home}`);
  if (!accepted.includes(entry.shell)) throw new Error(`the user ${name} has the login shell ${entry.shell}; the SSH tests need ${shell}: usermod -s ${shell} ${name}`);
  // A locked account (`!` in /etc/shadow, useradd's default) cannot log in with a key without PAM.
  const shadow = readFileSync('/etc/shadow', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (shadow?.split(':')[1]?.startsWith('!')) await run('usermod', ['-p', '*', name]);
  return { uid: entry.uid, home: entry.home };
}

function passwdEntry(name: string): { uid: number; home: string; shell: string } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const fields = line.split(':');
  return { uid: Number(fields[2]), home: fields[5] ?? '', shell: fields[6] ?? '' };
}

/** Every `sshd` process below `pid` (zombies included: not yet reaped), with its depth under it. */
function sshdTree(pid: number): { pid: number; depth: number }[] {
  const processes: { pid: number; ppid: number; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      processes.push({ pid: Number(entry), ppid, name });
    } catch {
      // it ended while we looked
    }
  }
  const below = (parent: number, depth: number): { pid: number; depth: number }[] =>
    processes.filter((p) => p.ppid === parent && p.name === 'sshd').flatMap((p) => [{ pid: p.pid, depth }, ...below(p.pid, depth + 1)]);
  return below(pid, 1);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function runWithInput(command: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} failed (exit ${code}): ${stderr.trim()}`))));
    child.stdin.end(input);
  });
}
