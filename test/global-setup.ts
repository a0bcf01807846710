// Runs once before the test suite: installs the Debian packages the runner tests start servers
// from (openssh-server, docker.io, busybox-static, openssl) and the dashboard test's chromium when they are missing and we are root
// — once, here, so test files running side by side never race for apt's lock — and makes sure
// PostgreSQL, Redis and NATS (JetStream) are reachable. Each uses TEST_*_URL, else the machine's server on its standard loopback port; when
// none answers it starts a throwaway one from the installed binaries (PostgreSQL: initdb as the
// `postgres` user; `redis-server`; `nats-server -js`) and stops it afterwards.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { staticBusybox } from './helpers/dockerd.js';

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((bin) => existsSync(join(bin, 'initdb')));
}

/** True when something accepts TCP connections on host:port within a second. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** Starts `command` on a free port when nothing listens on `url`; returns the stop function. */
async function ensureServer(name: string, envName: string, url: string, start: (port: number, dir: string) => [string, string[]]): Promise<() => void> {
  const target = new URL(process.env[envName] ?? url);
  if (await listening(target.hostname, Number(target.port))) {
    process.env[envName] = target.toString();
    return () => undefined;
  }
  const port = 55000 + Math.floor(Math.random() * 1000);
  const dir = mkdtempSync(join(tmpdir(), `eventops-${name}-`));
  const [command, args] = start(port, dir);
  let child: ChildProcess;
  try {
    child = spawn(command, args, { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      const deadline = Date.now() + 10_000;
      const poll = async () => {
        if (await listening('127.0.0.1', port)) return resolve();
        if (Date.now() > deadline) return reject(new Error(`${command} did not start`));
        setTimeout(poll, 100);
      };
      void poll();
    });
  } catch (error) {
    throw new Error(`no ${name} at ${target} and ${command} could not be started (${(error as Error).message}): install it or set ${envName}`);
  }
  target.port = String(port);
  target.hostname = '127.0.0.1';
  process.env[envName] = target.toString();
  return () => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
}

/** The runner tests' packages: each binary, and the package that brings it. */
const PACKAGES: readonly [() => boolean, string][] = [
  [() => existsSync('/usr/sbin/sshd'), 'openssh-server'],
  [() => existsSync('/usr/bin/ssh-keygen'), 'openssh-client'],
  [() => existsSync('/usr/sbin/dockerd'), 'docker.io'],
  // The Docker tests' image is this one binary: it must need no shared libraries.
  [staticBusybox, 'busybox-static'],
  [() => existsSync('/usr/bin/openssl'), 'openssl'],
  // The dashboard's browser test drives Debian's Chromium with playwright-core.
  [() => existsSync('/usr/bin/chromium'), 'chromium'],
];

function ensurePackages(): void {
  const missing = PACKAGES.filter(([present]) => !present()).map(([, name]) => name);
  // Not root or no apt: the runner tests that need them say what to install.
  if (missing.length === 0 || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return;
  const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'pipe', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  try {
    install();
  } catch {
    // The package lists may be missing or stale: refresh once.
    execFileSync('apt-get', ['update'], { stdio: 'pipe' });
    install();
  }
}

export async function setup(): Promise<() => void> {
  ensurePackages();
  const stopRedis = await ensureServer('redis', 'TEST_REDIS_URL', 'redis://127.0.0.1:6379', (port, dir) => ['redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir]]);
  const stopNats = await ensureServer('nats', 'TEST_NATS_URL', 'nats://127.0.0.1:4222', (port, dir) => ['nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]]);
  const stopPostgres = await setupPostgres();
  return () => {
    stopPostgres();
    stopNats();
    stopRedis();
  };
}

async function setupPostgres(): Promise<() => void> {
  const candidate = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await reachable(candidate)) {
    process.env.TEST_DATABASE_URL = candidate;
    return () => undefined;
  }
  const bin = postgresBin();
  if (!bin) throw new Error(`no PostgreSQL at ${candidate} and none installed: install postgresql or set TEST_DATABASE_URL`);
  const dir = mkdtempSync(join(tmpdir(), 'eventops-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = 54000 + Math.floor(Math.random() * 1000);
  const asPostgres = (cmd: string, args: string[]) =>
    process.getuid?.() === 0 ? execFileSync('su', ['postgres', '-c', [cmd, ...args].map((a) => `'${a}'`).join(' ')]) : execFileSync(cmd, args);
  asPostgres(join(bin, 'initdb'), ['-D', data, '--auth=trust', '-U', 'postgres']);
  asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-w', 'start']);
  process.env.TEST_DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return () => {
    asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
}
