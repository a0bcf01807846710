// `eventops serve` as a real separate process (bin/eventops.js, the built CLI), for end-to-end
// tests that need what only a process gives: SIGKILL mid-task, several workers, a restart on the
// same data. Resolves once the banner says where it listens; the admin token is read from its
// data folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface ServerProcess {
  url: string;
  token: string;
  pid: number;
  /** Everything it wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown at all. */
  kill(): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

/** `token`: the admin token the process was given (`server.adminToken`); otherwise it is read from `<dataDir>/admin-token`. */
export async function startServerProcess(options: { config: string; dataDir: string; env?: Record<string, string>; roles?: string; timeoutMs?: number; token?: string }): Promise<ServerProcess> {
  const args = [resolve('bin/eventops.js'), 'serve', '--config', options.config, ...(options.roles ? ['--role', options.roles] : [])];
  const child: ChildProcess = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'warn', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = once(child, 'exit');
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let url: string | undefined;
  while (!url) {
    if (child.exitCode !== null) throw new Error(`eventops serve exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`eventops serve did not start in time:\n${out}`);
    }
    url = /eventops is serving on (http:\/\/[^\s]+)/.exec(out)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  const token = options.token ?? (await readFile(join(options.dataDir, 'admin-token'), 'utf8')).trim();
  const wait = async (ms: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  };
  return {
    url,
    token,
    pid: child.pid as number,
    output: () => out,
    kill: async () => {
      child.kill('SIGKILL');
      await wait(5_000);
    },
    stop: async () => {
      child.kill('SIGTERM');
      await wait(15_000);
    },
  };
}
