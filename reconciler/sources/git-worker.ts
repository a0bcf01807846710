// The worker thread of a git source (started by git-source.ts): it owns the source's cache
// repository and does all of its git work (network, pack resolution, tree walks, blob reads), so
// none of it blocks the main thread's event loop and its heap is capped by the worker's
// resourceLimits. Requests and answers are plain messages; errors travel as kind, reason, message.
import { parentPort, workerData } from 'node:worker_threads';
import { SourceError } from '../errors.js';
import { openGitCache } from './git-cache.js';
import type { GitSourceOptions } from './git-cache.js';
import type { SourceEntry, SourceSnapshot } from './source.js';

export type GitWorkerRequest =
  | { id: number; op: 'resolve' }
  | { id: number; op: 'snapshot'; revision: string }
  | { id: number; op: 'read'; revision: string; entry: SourceEntry };

export type GitWorkerReply =
  | { id: number; ok: true; value: string | { revision: string; entries: SourceEntry[] } }
  | { id: number; ok: false; error: { kind: 'stalling' | 'transient'; reason: string; message: string } };

export interface GitWorkerData {
  options: GitSourceOptions;
  /** Drop the cache repository first: the worker before this one was stopped in the middle of a fetch. */
  fresh: boolean;
}

const port = parentPort;
if (port) {
  const data = workerData as GitWorkerData;
  const source = openGitCache(data.options);
  const snapshots = new Map<string, SourceSnapshot>();
  const started = data.fresh ? import('node:fs/promises').then((fs) => fs.rm(data.options.cacheDir, { recursive: true, force: true })) : Promise.resolve();

  const answer = async (request: GitWorkerRequest): Promise<GitWorkerReply> => {
    try {
      await started;
      switch (request.op) {
        case 'resolve':
          return { id: request.id, ok: true, value: await source.resolve() };
        case 'snapshot': {
          const snapshot = await source.snapshot(request.revision);
          snapshots.clear(); // the reconciler reads from the newest only
          snapshots.set(snapshot.revision, snapshot);
          return { id: request.id, ok: true, value: { revision: snapshot.revision, entries: snapshot.entries } };
        }
        case 'read': {
          // A worker started after the one that took the snapshot finds the commit in the cache.
          let snapshot = snapshots.get(request.revision);
          if (!snapshot) snapshots.set(request.revision, (snapshot = await source.snapshot(request.revision)));
          return { id: request.id, ok: true, value: await snapshot.read(request.entry) };
        }
      }
    } catch (err) {
      const error = err instanceof SourceError ? err : new SourceError('transient', 'GitError', err instanceof Error ? err.message : String(err));
      return { id: request.id, ok: false, error: { kind: error.kind, reason: error.reason, message: error.message } };
    }
  };

  port.on('message', (request: GitWorkerRequest) => {
    void answer(request).then((reply) => port.postMessage(reply));
  });
}
