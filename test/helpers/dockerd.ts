// A throwaway Docker daemon for tests: its own data, exec root and socket in a temporary folder,
// no iptables and no bridge (so it needs nothing from the machine's network), a TLS endpoint on
// 127.0.0.1 with a CA and certificates made by `openssl`, and a test image built locally (no
// registry is reachable): Debian's static busybox with a link for each of its applets, and /tmp;
// and a second one for tasks without `commands`, built like an image with an ENTRYPOINT and CMD
// of its own (`docker import --change …`): busybox alone, no /bin/sh, no /tmp, a non-root USER.
// docker.io and busybox-static are installed by test/global-setup.ts when missing (as root).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';

export interface TestDockerd {
  /** `unix://<socket>`, for `createDockerRunner({ host })`. */
  host: string;
  /** The TLS endpoint: `tcp://127.0.0.1:<port>` and the PEM texts a client needs. */
  tls: { host: string; ca: string; cert: string; key: string };
  /** A local image with busybox's applets (sh, base64, setsid…) on the PATH. */
  image: string;
  /**
   * A local image that runs as built: ENTRYPOINT `/bin/busybox sh -c`, CMD PLAIN_IMAGE_SCRIPT,
   * USER `app` (uid 1000, named in its /etc/passwd), WORKDIR /data; no /bin/sh, no /tmp.
   */
  plainImage: string;
  /** A client of the daemon's socket, for the test's own looks. */
  docker: Docker;
  /**
   * SIGKILL of dockerd alone, as an operator's `kill -9` (its containerd and the containers go on
   * running; the socket stops answering). stop() still cleans everything up afterwards.
   */
  kill(): Promise<void>;
  /** Stops the daemon (and its containerd) and removes its folders. Idempotent. */
  stop(): Promise<void>;
}

const BUSYBOX = '/bin/busybox';
export const TEST_IMAGE = 'eventops-test-busybox:latest';
export const PLAIN_TEST_IMAGE = 'eventops-test-plain:latest';
/** The CMD of PLAIN_TEST_IMAGE; env SLEEP makes it sleep first, EXIT_CODE sets its exit code. */
export const PLAIN_IMAGE_SCRIPT = [
  'echo "hello $GREETING as $(/bin/busybox id -u) in $PWD"',
  'echo "token $TOKEN" >&2',
  'if [ -n "$SLEEP" ]; then echo sleeping; /bin/busybox sleep "$SLEEP"; fi',
  'echo "answer=42" >> "$EVENTOPS_OUTPUT"',
  'exit "${EXIT_CODE:-0}"',
].join('; ');

/** Starts a daemon and builds the test image; throws, saying what to install, when it cannot. */
export async function startDockerd(): Promise<TestDockerd> {
  ensureInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'eventops-dockerd-'));
  const socket = join(dir, 'docker.sock');
  let child: ChildProcess | undefined;
  let docker: Docker | undefined;
  let stopped: Promise<void> | undefined;
  let killed = false;
  const stop = () =>
    (stopped ??= (async () => {
      if (child) await stopProcess(child);
      // A daemon killed with SIGKILL stopped nothing of its own: its containerd, shims and containers.
      if (killed) killLeftProcesses(dir);
      removeFolder(dir);
    })());
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    killed = true;
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  };
  try {
    const certs = makeCertificates(join(dir, 'certs'));
    const port = await freePort();
    const config = join(dir, 'daemon.json');
    writeFileSync(config, '{}');
    const log = openSync(join(dir, 'dockerd.log'), 'a');
    child = spawn(
      'dockerd',
      [
        ...['--config-file', config, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid')],
        ...['-H', `unix://${socket}`, '-H', `tcp://127.0.0.1:${port}`],
        ...['--tlsverify', '--tlscacert', certs.caFile, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey],
        ...['--iptables=false', '--ip6tables=false', '--bridge=none'],
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const running = child;
    // A test process that dies without cleanup must not leave the daemon behind.
    process.once('exit', () => running.kill('SIGTERM'));
    docker = new Docker({ socketPath: socket });
    await waitUntilAnswering(docker, child, join(dir, 'dockerd.log'));
    await buildImage(docker);
    await buildPlainImage(docker);
    return { host: `unix://${socket}`, tls: { host: `tcp://127.0.0.1:${port}`, ca: certs.ca, cert: certs.clientCertText, key: certs.clientKeyText }, image: TEST_IMAGE, plainImage: PLAIN_TEST_IMAGE, docker, kill, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The packages are installed once by test/global-setup.ts (as root); here only checked. */
function ensureInstalled(): void {
  const missing = [...(onPath('dockerd') ? [] : ['docker.io']), ...(staticBusybox() ? [] : ['busybox-static']), ...(onPath('openssl') ? [] : ['openssl'])];
  if (missing.length > 0) throw new Error(`the docker runner's tests need ${missing.join(', ')} (dockerd, a static /bin/busybox, openssl): install them (apt-get install -y ${missing.join(' ')}), or run the tests as root so the test set-up installs them`);
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(delimiter)
    .concat(['/usr/sbin', '/sbin'])
    .some((folder) => existsSync(join(folder, command)));
}

/** True when /bin/busybox is an ELF file without a program interpreter (so it runs in an empty image). */
export function staticBusybox(): boolean {
  if (!existsSync(BUSYBOX)) return false;
  const fd = openSync(BUSYBOX, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return false; // 64-bit ELF only
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}

interface Certificates {
  caFile: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCertText: string;
  clientKeyText: string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all P-256 (fast to make). */
function makeCertificates(dir: string): Certificates {
  mkdirSync(dir, { recursive: true });
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...newKey, '-keyout', at('ca-key.pem'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=eventops test CA');
  for (const [name, extensions] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(at(`${name}.ext`), extensions);
    openssl('req', ...newKey, '-keyout', at(`${name}-key.pem`), '-out', at(`${name}.csr`), '-subj', `/CN=eventops test ${name}`);
    openssl('x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca-key.pem'), '-CAcreateserial', '-out', at(`${name}-cert.pem`), '-days', '2', '-extfile', at(`${name}.ext`));
  }
  return {
    caFile: at('ca.pem'),
    ca: readFileSync(at('ca.pem'), 'utf8'),
    serverCert: at('server-cert.pem'),
    serverKey: at('server-key.pem'),
    clientCertText: readFileSync(at('client-cert.pem'), 'utf8'),
    clientKeyText: readFileSync(at('client-key.pem'), 'utf8'),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilAnswering(docker: Docker, child: ChildProcess, logFile: string): Promise<void> {
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = `exited with ${code ?? signal}`));
  child.once('error', (error) => (exit = `could not start: ${error.message}`));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exit !== undefined || Date.now() > deadline) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`dockerd ${exit ?? 'did not answer within 20s'}; the end of its log:\n${log}`);
    }
    try {
      await docker.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Imports the test image: /bin/busybox, a symbolic link per applet in /bin, and /tmp. */
async function buildImage(docker: Docker): Promise<void> {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((name) => /^[a-z0-9_.[-]+$/.test(name) && name !== 'busybox');
  const tar = pack();
  tar.entry({ name: 'bin', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'tmp', type: 'directory', mode: 0o1777 });
  tar.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync(BUSYBOX));
  for (const applet of applets) tar.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  tar.finalize();
  await importImage(docker, TEST_IMAGE, tar, []);
}

/** Imports PLAIN_TEST_IMAGE: only /bin/busybox, the accounts files and /data, with its entrypoint, cmd, user and workdir. */
async function buildPlainImage(docker: Docker): Promise<void> {
  const tar = pack();
  tar.entry({ name: 'bin', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'bin/busybox', mode: 0o755 }, readFileSync(BUSYBOX));
  tar.entry({ name: 'etc', type: 'directory', mode: 0o755 });
  tar.entry({ name: 'etc/passwd', mode: 0o644 }, 'root:x:0:0:root:/root:/bin/false\napp:x:1000:1000:app:/data:/bin/false\n');
  tar.entry({ name: 'etc/group', mode: 0o644 }, 'root:x:0:\napp:x:1000:\n');
  tar.entry({ name: 'data', type: 'directory', mode: 0o755 });
  tar.finalize();
  await importImage(docker, PLAIN_TEST_IMAGE, tar, [`ENTRYPOINT ${JSON.stringify(['/bin/busybox', 'sh', '-c'])}`, `CMD ${JSON.stringify([PLAIN_IMAGE_SCRIPT])}`, 'USER app', 'WORKDIR /data']);
}

/** `docker import - IMAGE --change …` of a tar-stream archive. */
async function importImage(docker: Docker, image: string, tar: ReturnType<typeof pack>, changes: string[]): Promise<void> {
  const [repo, tag] = image.split(':');
  // tar-stream's pack is a streamx stream: Readable.from makes it the Node stream dockerode pipes.
  const progress = await docker.importImage(Readable.from(tar), { repo, tag, ...(changes.length > 0 ? { changes } : {}) });
  const events = await new Promise<unknown[]>((resolve, reject) => docker.modem.followProgress(progress, (error: Error | null, output: unknown[]) => (error ? reject(error) : resolve(output))));
  const failure = events.find((event): event is { error: unknown } => typeof event === 'object' && event !== null && 'error' in event);
  if (failure) throw new Error(`importing the test image ${image} failed: ${String(failure.error)}`);
}

/** SIGTERM, then SIGKILL after 15 s; dockerd stops its own containerd on a clean exit. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * SIGKILLs what a killed daemon left: the processes of its containers (found by their ids in
 * /proc/<pid>/cgroup), then its containerd and shims (whose command lines name the folder).
 */
function killLeftProcesses(dir: string): void {
  const ids = (() => {
    try {
      return readdirSync(join(dir, 'data', 'containers'));
    } catch {
      return [];
    }
  })();
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid);
  const inContainers = pids.filter((pid) => {
    const cgroup = read(`/proc/${pid}/cgroup`);
    return ids.some((id) => cgroup.includes(id));
  });
  const daemons = pids.filter((pid) => read(`/proc/${pid}/cmdline`).includes(dir));
  for (const pid of [...inContainers, ...daemons]) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

/** Removes the daemon's folder, first unmounting whatever it left mounted there. */
function removeFolder(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch {
    // Mounts left by a daemon that was killed: unmount them (deepest first), then try again.
  }
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) execFileSync('umount', ['-l', point], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
