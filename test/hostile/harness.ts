// The hostile suite's harness: a real `eventops serve` (the built CLI) on a throwaway data folder
// and configuration, a watcher that keeps asking `/healthz` and records its worst latency, and the
// server's resident memory read from /proc. Each test in test/hostile/ sends one kind of nasty
// input and then asserts the answer code, that /healthz kept answering within its bound, that
// memory stayed under a stated bound and that the server still serves afterwards.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

export interface HostileServer extends ServerProcess {
  dir: string;
  /** Resident memory of the server process now, in bytes (VmRSS). */
  rss(): number;
  /** Stops the process and removes its folder. */
  close(): Promise<void>;
}

/** Starts `eventops serve` on port 0 with `configYaml` appended to a minimal configuration. */
export async function startHostileServer(options: { configYaml?: string; env?: Record<string, string>; roles?: string; files?: Record<string, string> } = {}): Promise<HostileServer> {
  const dir = mkdtempSync(join(tmpdir(), 'eventops-hostile-'));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  const config = join(dir, 'eventops.yaml');
  writeFileSync(config, `server: { port: 0, host: 127.0.0.1 }\n${options.configYaml ?? ''}`);
  const dataDir = join(dir, 'data');
  const server = await startServerProcess({ config, dataDir, env: { EVENTOPS_DATA_DIR: dataDir, ...options.env }, ...(options.roles ? { roles: options.roles } : {}) });
  return {
    ...server,
    dir,
    rss: () => rssOf(server.pid),
    close: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** VmRSS of a process, in bytes; 0 once it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface HealthWatch {
  /** Stops watching; resolves with the worst latency seen (ms), the failures and the peak RSS (bytes, when a pid was given). */
  stop(): Promise<{ worstMs: number; failures: string[]; peakRss: number; samples: number }>;
}

/** Asks `GET <url>/healthz` every `everyMs` (default 100) one at a time; a request past `timeoutMs` (default 1000) is a failure. */
export function watchHealth(url: string, options: { pid?: number; everyMs?: number; timeoutMs?: number } = {}): HealthWatch {
  const everyMs = options.everyMs ?? 100;
  const timeoutMs = options.timeoutMs ?? 1000;
  let worstMs = 0;
  let peakRss = 0;
  let samples = 0;
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        if (res.status !== 200) failures.push(`/healthz answered ${res.status}`);
      } catch (error) {
        failures.push(`/healthz: ${(error as Error).message} after ${Math.round(performance.now() - started)} ms`);
      }
      worstMs = Math.max(worstMs, performance.now() - started);
      if (options.pid) peakRss = Math.max(peakRss, rssOf(options.pid));
      samples++;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { worstMs: Math.round(worstMs), failures, peakRss, samples };
    },
  };
}
