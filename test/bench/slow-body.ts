// The slow-body attack of issue 20 item 4, as a benchmark: a real `eventops serve` (the built CLI)
// with a GitHub webhook secret, and N connections that each POST /webhooks/github with a ~24 MB
// declared body sent slowly (with a wrong X-Hub-Signature-256, and again without one). It prints
// the server's peak RSS, the worst /healthz latency (a fresh connection each time, as a probe
// would) and what the attackers were answered, and writes test/bench/results/slow-body-*.json.
// Bounded: each variant runs for --seconds (default 60) and the server is killed if its RSS
// passes --rss-cap-mb (default 4096).
//
//   npx tsx test/bench/slow-body.ts [--connections 200] [--body-mb 24] [--seconds 60]
//     [--bin path/to/bin/eventops.js] [--config-yaml 'limits: {…}'] [--variants signed,unsigned]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { rssOf } from '../hostile/harness.js';
import { printTable, resultsHeader, ROOT, writeResults } from './bench-results.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    'body-mb': { type: 'string', default: '24' },
    seconds: { type: 'string', default: '60' },
    'rss-cap-mb': { type: 'string', default: '4096' },
    bin: { type: 'string', default: join(ROOT, 'bin/eventops.js') },
    'config-yaml': { type: 'string', default: '' },
    variants: { type: 'string', default: 'signed,unsigned' },
    label: { type: 'string', default: '' },
  },
});
const CONNECTIONS = Number(args.connections);
const BODY_BYTES = Math.round(Number(args['body-mb']) * 1024 * 1024);
const SECONDS = Number(args.seconds);
const RSS_CAP = Number(args['rss-cap-mb']) * 1024 * 1024;
/** Each attacker spreads its body over ~80% of the run, so the bodies are all still arriving at once. */
const BYTES_PER_TICK = Math.ceil(BODY_BYTES / ((SECONDS * 0.8 * 1000) / 100));
const SECRET = 'bench-webhook-secret';

interface Server {
  url: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'eventops-slow-body-'));
  const config = join(dir, 'eventops.yaml');
  writeFileSync(config, `server: { port: 0, host: 127.0.0.1 }\ngithub:\n  webhookSecrets: [ { secret: GH_HOOK } ]\n${args['config-yaml']}\n`);
  const child = spawn(process.execPath, [resolve(args.bin), 'serve', '--config', config], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'warn', EVENTOPS_DATA_DIR: join(dir, 'data'), EVENTOPS_SECRET_GH_HOOK: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = once(child, 'exit');
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (!url) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`eventops serve did not start:\n${out}`);
    }
    url = /eventops is serving on (http:\/\/[^\s]+)/.exec(out)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    pid: child.pid as number,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET /healthz on a new connection (agent: false), its latency in ms; `timeoutMs` or an error is a failure. */
function probe(url: string, timeoutMs: number): Promise<{ ms: number; connectMs: number; ok: boolean }> {
  const started = performance.now();
  let connectMs = 0;
  return new Promise((done) => {
    const req = request(`${url}/healthz`, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => done({ ms: performance.now() - started, connectMs, ok: res.statusCode === 200 }));
    });
    // The TCP connect apart from the answer: a slow connect is the kernel's (a full accept queue), a slow answer the server's.
    req.on('socket', (socket) => socket.once('connect', () => (connectMs = performance.now() - started)));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done({ ms: performance.now() - started, connectMs, ok: false }));
    req.end();
  });
}

interface Attacker {
  socket: Socket;
  sent: number;
  answer?: string;
  /** Records the attacker's outcome (once) and stops its sending. */
  finish(key: string): void;
}

/** One slow attacker: headers at once, then BYTES_PER_TICK every 100 ms, respecting the socket's backpressure. */
function attack(url: URL, signed: boolean, n: number, counts: Map<string, number>): Attacker {
  const socket = connect(Number(url.port), url.hostname);
  let timer: NodeJS.Timeout | undefined;
  const attacker: Attacker = {
    socket,
    sent: 0,
    finish: (key) => {
      if (attacker.answer) return;
      attacker.answer = key;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      clearInterval(timer);
    },
  };
  const count = attacker.finish;
  const headers = [
    'POST /webhooks/github HTTP/1.1',
    `host: ${url.host}`,
    'content-type: application/json',
    `content-length: ${BODY_BYTES}`,
    'x-github-event: push',
    `x-github-delivery: bench-${n}`,
    ...(signed ? [`x-hub-signature-256: sha256=${'0'.repeat(64)}`] : []),
  ];
  const chunk = Buffer.alloc(BYTES_PER_TICK, 0x20);
  socket.on('connect', () => {
    socket.write(`${headers.join('\r\n')}\r\n\r\n`);
    let waiting = false;
    timer = setInterval(() => {
      if (waiting || attacker.sent >= BODY_BYTES) return;
      const piece = chunk.subarray(0, Math.min(chunk.length, BODY_BYTES - attacker.sent));
      attacker.sent += piece.length;
      if (!socket.write(piece)) {
        waiting = true;
        socket.once('drain', () => (waiting = false));
      }
    }, 100);
  });
  socket.once('data', (data: Buffer) => count(/^HTTP\/1\.1 (\d{3})/.exec(data.toString('latin1'))?.[1] ?? 'other'));
  socket.on('error', (error: NodeJS.ErrnoException) => count(error.code ?? 'error'));
  socket.on('close', () => count('closed'));
  return attacker;
}

interface VariantResult {
  variant: string;
  connections: number;
  bodyBytes: number;
  seconds: number;
  baselineRssMb: number;
  peakRssMb: number;
  killedAtRssCap: boolean;
  healthz: { worstMs: number; worstAtS: number; worstConnectMs: number; medianMs: number; p99Ms: number; failures: number; samples: number };
  answers: Record<string, number>;
  attackerBytesSentMb: number;
}

async function runVariant(signed: boolean): Promise<VariantResult> {
  const server = await startServer();
  const url = new URL(server.url);
  // Settle, then take the idle RSS.
  await new Promise((r) => setTimeout(r, 2_000));
  const baseline = rssOf(server.pid);
  let peak = baseline;
  let killed = false;
  const counts = new Map<string, number>();
  const attackers: Attacker[] = [];
  let running = true;
  const started = Date.now();
  const watcher = (async () => {
    const latencies: number[] = [];
    let failures = 0;
    let worst = { ms: 0, atS: 0, connectMs: 0 };
    while (running) {
      const { ms, ok, connectMs } = await probe(server.url, 5_000);
      latencies.push(ms);
      if (ms > worst.ms) worst = { ms, atS: Math.round((Date.now() - started) / 100) / 10, connectMs: Math.round(connectMs) };
      if (!ok) failures++;
      await new Promise((r) => setTimeout(r, 200));
    }
    const sorted = latencies.sort((a, b) => a - b);
    const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    return { worstMs: at(1), worstAtS: worst.atS, worstConnectMs: worst.connectMs, medianMs: at(0.5), p99Ms: at(0.99), failures, samples: sorted.length };
  })();
  const sampler = setInterval(() => {
    const rss = rssOf(server.pid);
    peak = Math.max(peak, rss);
    if (rss > RSS_CAP && !killed) {
      killed = true;
      server.child.kill('SIGKILL');
    }
  }, 100);
  // Open the connections over the first 2 s, as clients arriving, not one burst.
  for (let i = 0; i < CONNECTIONS && !killed; i++) {
    attackers.push(attack(url, signed, i, counts));
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 100));
  }
  while (Date.now() - started < SECONDS * 1000 && !killed) await new Promise((r) => setTimeout(r, 200));
  running = false;
  const healthz = await watcher;
  clearInterval(sampler);
  for (const a of attackers) {
    a.finish('no answer');
    a.socket.destroy();
  }
  const sent = attackers.reduce((sum, a) => sum + a.sent, 0);
  await server.stop();
  return {
    variant: signed ? 'signed (wrong signature)' : 'unsigned',
    connections: CONNECTIONS,
    bodyBytes: BODY_BYTES,
    seconds: Math.round((Date.now() - started) / 1000),
    baselineRssMb: Math.round(baseline / 1024 / 1024),
    peakRssMb: Math.round(peak / 1024 / 1024),
    killedAtRssCap: killed,
    healthz,
    answers: Object.fromEntries(counts),
    attackerBytesSentMb: Math.round(sent / 1024 / 1024),
  };
}

const results: VariantResult[] = [];
for (const variant of args.variants.split(',')) results.push(await runVariant(variant.trim() === 'signed'));
printTable(
  ['variant', 'conns', 'RSS idle MB', 'RSS peak MB', 'killed', '/healthz median/p99/worst ms', 'fails/samples', 'sent MB', 'answers'],
  results.map((r) => [r.variant, String(r.connections), String(r.baselineRssMb), String(r.peakRssMb), r.killedAtRssCap ? 'yes' : 'no', `${r.healthz.medianMs}/${r.healthz.p99Ms}/${r.healthz.worstMs} (at ${r.healthz.worstAtS} s, connect ${r.healthz.worstConnectMs})`, `${r.healthz.failures}/${r.healthz.samples}`, String(r.attackerBytesSentMb), JSON.stringify(r.answers)]),
);
const path = writeResults({ ...resultsHeader('slow-body', ['hono', '@hono/node-server']), label: args.label, bin: resolve(args.bin), configYaml: args['config-yaml'], results });
console.log(`\nresults: ${path}`);
