// A DefinitionSource over a git repository reached by HTTP(S). The git work (git-cache.ts) runs
// in a worker thread per source, so a fetch never blocks the event loop, and every call has a
// budget: a deadline (limits.git.fetchTimeoutMs) after which the worker is stopped, and a heap
// (limits.git.fetchMemoryBytes, the worker's old-space limit, also the cap on one pack's bytes).
// A worker stopped or dead of either is replaced on the next call; the process lives on, and the
// call fails with a SourceError naming the limit (`FetchTimeout`, `FetchOutOfMemory`).
import { Worker } from 'node:worker_threads';
import { DEFAULT_LIMITS } from '../../config/index.js';
import type { Limits } from '../../config/index.js';
import { SourceError } from '../errors.js';
import type { GitSourceOptions } from './git-cache.js';
import type { GitWorkerData, GitWorkerReply, GitWorkerRequest } from './git-worker.js';
import { redact, sanitizeUrl } from './sanitize.js';
import type { DefinitionSource, SourceEntry, SourceSnapshot } from './source.js';

export type { GitSourceOptions } from './git-cache.js';

export interface GitSourceLimits {
  /** The whole of one call (resolve, snapshot or read), in ms; default limits.git.fetchTimeoutMs. */
  fetchTimeoutMs?: number;
  /** The worker's heap and the bytes of one pack; default limits.git.fetchMemoryBytes. */
  fetchMemoryBytes?: number;
}

const MiB = 1024 * 1024;
// An idle worker holds a V8 heap (~10-30 MB): with many sources, stop it between reconciles.
const IDLE_STOP_MS = 30_000;

type GitWorkerCall = GitWorkerRequest extends infer R ? (R extends GitWorkerRequest ? Omit<R, 'id'> : never) : never;

/** Creates the source; the worker starts on the first call, not here. */
export function createGitSource(options: GitSourceOptions & { limits?: GitSourceLimits | Limits['git'] }): DefinitionSource {
  const { limits, ...gitOptions } = options;
  const fetchTimeoutMs = limits?.fetchTimeoutMs ?? DEFAULT_LIMITS.git.fetchTimeoutMs;
  const fetchMemoryBytes = limits?.fetchMemoryBytes ?? DEFAULT_LIMITS.git.fetchMemoryBytes;
  const where = sanitizeUrl(options.url);
  const secrets = [options.token].filter((s): s is string => !!s);
  const clean = (text: string) => redact(text, secrets);

  let worker: Worker | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let nextId = 0;
  let closed = false;
  // The last worker was stopped while it may have been writing the cache: the next one drops it.
  let fresh = false;
  const pending = new Map<number, { resolve: (reply: GitWorkerReply) => void; reject: (err: SourceError) => void }>();

  const failAll = (error: SourceError) => {
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };

  const stop = (error: SourceError) => {
    const current = worker;
    worker = undefined;
    fresh = true;
    failAll(error);
    if (current) void current.terminate();
  };

  const start = (): Worker => {
    const data: GitWorkerData = { options: { ...gitOptions, maxPackBytes: fetchMemoryBytes }, fresh };
    fresh = false;
    const started = spawnGitWorker(data, Math.max(16, Math.floor(fetchMemoryBytes / MiB)));
    started.on('message', (reply: GitWorkerReply) => {
      const call = pending.get(reply.id);
      pending.delete(reply.id);
      call?.resolve(reply);
      if (pending.size === 0 && worker === started) {
        started.unref();
        clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          if (worker !== started || pending.size > 0) return;
          worker = undefined;
          void started.terminate();
        }, IDLE_STOP_MS).unref();
      }
    });
    started.on('error', (err: Error & { code?: string }) => {
      if (worker !== started) return;
      worker = undefined;
      fresh = true;
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        failAll(
          new SourceError(
            'stalling',
            'FetchOutOfMemory',
            clean(
              `git work on ${where} needed more than its memory budget of ${Math.round(fetchMemoryBytes / MiB)} MiB (limits.git.fetchMemoryBytes) and was stopped: raise limits.git.fetchMemoryBytes in eventops.yaml, or point dir at a smaller part of the repository`,
            ),
            { cause: err },
          ),
        );
      } else {
        failAll(new SourceError('transient', 'GitError', clean(`the git worker of ${where} failed: ${err.message}`), { cause: err }));
      }
    });
    started.on('exit', (code) => {
      if (worker !== started) return;
      worker = undefined;
      fresh = true;
      failAll(new SourceError('transient', 'GitError', clean(`the git worker of ${where} exited (code ${code}) in the middle of a call; it will be retried`)));
    });
    return started;
  };

  const call = (request: GitWorkerCall, what: string, signal?: AbortSignal): Promise<GitWorkerReply> => {
    if (closed) return Promise.reject(new SourceError('stalling', 'Closed', `the git source '${options.name}' is closed`));
    if (signal?.aborted) return Promise.reject(new SourceError('transient', 'Aborted', clean(`${what} of ${where} was cancelled`)));
    clearTimeout(idleTimer);
    const current = (worker ??= start());
    current.ref();
    const id = ++nextId;
    return new Promise<GitWorkerReply>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      // Stopping the worker is the only way to end a call stuck in synchronous work (a pack
      // resolution that loops); the cache it may have half-written is dropped by the next one.
      const timer = setTimeout(() => {
        stop(
          new SourceError(
            'transient',
            'FetchTimeout',
            clean(`${what} of ${where} took longer than ${fetchTimeoutMs} ms (limits.git.fetchTimeoutMs) and was stopped: raise limits.git.fetchTimeoutMs in eventops.yaml if the repository is that big or the server that slow`),
          ),
        );
      }, fetchTimeoutMs);
      const onAbort = () => stop(new SourceError('transient', 'Aborted', clean(`${what} of ${where} was cancelled`)));
      signal?.addEventListener('abort', onAbort, { once: true });
      pending.set(id, {
        resolve: (reply) => {
          done();
          resolve(reply);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      current.postMessage({ ...request, id } as GitWorkerRequest);
    });
  };

  const value = async <T>(request: GitWorkerCall, what: string, signal?: AbortSignal): Promise<T> => {
    const reply = await call(request, what, signal);
    if (!reply.ok) throw new SourceError(reply.error.kind, reply.error.reason, reply.error.message);
    return reply.value as T;
  };

  return {
    resolve: (signal) => value<string>({ op: 'resolve' }, 'resolve', signal),

    async snapshot(revision, signal): Promise<SourceSnapshot> {
      const listed = await value<{ revision: string; entries: SourceEntry[] }>({ op: 'snapshot', revision }, `fetch of ${revision}`, signal);
      return {
        revision: listed.revision,
        entries: listed.entries,
        read: (entry) => value<string>({ op: 'read', revision: listed.revision, entry }, `read of ${entry.path}`),
      };
    },

    async close() {
      closed = true;
      clearTimeout(idleTimer);
      const current = worker;
      worker = undefined;
      failAll(new SourceError('stalling', 'Closed', `the git source '${options.name}' is closed`));
      await current?.terminate();
    },
  };
}

/**
 * Starts git-worker in a thread with `maxOldGenerationSizeMb`. Built (dist/), it is the .js file
 * beside this one; run from TypeScript source (vitest, tsx), the .ts file, loaded through tsx's
 * loader, which such a run has installed.
 */
function spawnGitWorker(data: GitWorkerData, heapMb: number): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: heapMb };
  if (import.meta.url.endsWith('.js')) {
    return new Worker(new URL('./git-worker.js', import.meta.url), { workerData: data, resourceLimits });
  }
  const entry = JSON.stringify(new URL('./git-worker.ts', import.meta.url).href);
  const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`;
  return new Worker(code, { eval: true, workerData: data, resourceLimits });
}
