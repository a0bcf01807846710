// Talking to the Kubernetes API server for the kubernetes runner: the cluster a runner uses,
// streaming GETs (a followed log, a watch), the pods watch that survives broken streams, a timeout
// on every request, and errors turned into what the API server said — with credentials stripped
// and a hint at what to fix.
import http from 'node:http';
import https from 'node:https';
import { ApiException, type BatchV1Api, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createLineSplitter } from './line-splitter.js';
import { durationText } from './duration-text.js';

/** A usable cluster: loaded once per runner (kubernetes-cluster.ts). */
export interface Cluster {
  kc: KubeConfig;
  core: CoreV1Api;
  batch: BatchV1Api;
  namespace: string;
  /** The API server's address, for messages. */
  server: string;
}

/** How long the API server may stay unreachable while a task runs before the attempt fails. */
const LOST_CONTACT_MS = 60_000;
/** An answer to one API request must come within this. */
const REQUEST_TIMEOUT_MS = 30_000;

export type StreamEnd = { kind: 'ended' } | { kind: 'aborted' } | { kind: 'failed'; status?: number; message: string };

export interface StreamRequest {
  path: string;
  query: Record<string, string>;
  signal: AbortSignal;
  onData(chunk: Buffer): void;
}

/**
 * A streaming GET (a followed log, a watch), with the kubeconfig's TLS and credentials. The
 * client's own Log helper is not used: it leaves an aborted or broken stream's error unhandled.
 */
export async function openStream(cluster: Cluster, request: StreamRequest): Promise<StreamEnd> {
  if (request.signal.aborted) return { kind: 'aborted' };
  const url = new URL(`${cluster.kc.getCurrentCluster()!.server.replace(/\/+$/, '')}${request.path}`);
  for (const [key, value] of Object.entries(request.query)) url.searchParams.set(key, value);
  const options: https.RequestOptions = {};
  try {
    await cluster.kc.applyToHTTPSOptions(options);
  } catch (error) {
    return { kind: 'failed', message: messageOf(error) };
  }
  return new Promise((resolve) => {
    let settled = false;
    const settle = (end: StreamEnd) => {
      if (settled) return;
      settled = true;
      request.signal.removeEventListener('abort', onAbort);
      resolve(end);
    };
    const send = url.protocol === 'https:' ? https.request : http.request;
    const req = send(url, { ...options, method: 'GET' }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < 65_536) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', () => undefined);
        res.on('close', () => settle({ kind: 'failed', status: res.statusCode ?? 0, message: `HTTP ${res.statusCode}: ${statusText(Buffer.concat(chunks).toString('utf8'))}` }));
        return;
      }
      res.on('data', (chunk: Buffer) => {
        if (!settled) request.onData(chunk);
      });
      res.on('error', (error) => settle(request.signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: error.message }));
      res.on('close', () => settle(request.signal.aborted ? { kind: 'aborted' } : res.complete ? { kind: 'ended' } : { kind: 'failed', message: 'the connection closed in the middle of the stream' }));
    });
    req.on('error', (error) => settle(request.signal.aborted ? { kind: 'aborted' } : { kind: 'failed', message: stripCredentials(error.message) }));
    const onAbort = () => {
      req.destroy();
      settle({ kind: 'aborted' });
    };
    request.signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

/**
 * Lists the pods matching `selector`, then watches them from that list's resource version, and
 * lists again whenever the watch ends. Resolves when `signal` aborts (undefined), or with what went
 * wrong once the API server could not be reached for LOST_CONTACT_MS.
 */
export async function watchPods(cluster: Cluster, selector: string, signal: AbortSignal, onPod: (type: string, pod: V1Pod) => void): Promise<string | undefined> {
  let failingSince: number | undefined;
  let failures = 0;
  const seen = new Set<string>();
  while (!signal.aborted) {
    let problem: string | undefined;
    try {
      const listed = await withTimeout(cluster.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: selector }));
      if (signal.aborted) return undefined;
      const names = new Set(listed.items.map((pod) => pod.metadata?.name ?? ''));
      // A pod deleted while no watch was open shows only by its absence.
      for (const name of seen) if (!names.has(name)) onPod('DELETED', { metadata: { name } });
      for (const pod of listed.items) {
        seen.add(pod.metadata?.name ?? '');
        onPod('MODIFIED', pod);
      }
      let version = listed.metadata?.resourceVersion;
      let expired = false;
      const events = createLineSplitter((line) => {
        if (line.trim() === '' || signal.aborted) return;
        let event: { type?: string; object?: V1Pod & { code?: number } };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          return;
        }
        if (event.type === 'ERROR') {
          expired = true;
          return;
        }
        if (!event.type || !event.object) return;
        if (event.object.metadata?.resourceVersion) version = event.object.metadata.resourceVersion;
        if (event.type === 'BOOKMARK') return;
        const name = event.object.metadata?.name ?? '';
        if (event.type === 'DELETED') seen.delete(name);
        else seen.add(name);
        onPod(event.type, event.object);
      }, 16 * 1024 * 1024);
      const watchedAt = Date.now();
      const end = await openStream(cluster, {
        path: `/api/v1/namespaces/${encodeURIComponent(cluster.namespace)}/pods`,
        query: { watch: 'true', labelSelector: selector, allowWatchBookmarks: 'true', timeoutSeconds: '300', ...(version ? { resourceVersion: version } : {}) },
        signal,
        onData: (chunk) => events.write(chunk),
      });
      if (end.kind === 'aborted') return undefined;
      // The list worked, so the API server is there; a watch that failed or ended at once is retried after a pause.
      failingSince = undefined;
      if (end.kind === 'ended' && !expired && Date.now() - watchedAt > 1_000) {
        failures = 0;
        continue;
      }
    } catch (error) {
      problem = apiMessage(error);
    }
    if (problem !== undefined) {
      failingSince ??= Date.now();
      if (Date.now() - failingSince > LOST_CONTACT_MS) return problem;
    }
    failures++;
    await sleep(Math.min(250 * 2 ** Math.min(failures, 5), 5_000), signal);
  }
  return undefined;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Rejects when the API server does not answer within REQUEST_TIMEOUT_MS. */
export function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the API server within ${durationText(REQUEST_TIMEOUT_MS)}`)), REQUEST_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The HTTP status the API server answered with; undefined when no answer came. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? (error.code as number) : undefined;
}

/** What the API server said: its Status message when there is one, never the client's dump of headers. */
export function apiMessage(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    const text = typeof body === 'string' ? statusText(body) : typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : '';
    return `HTTP ${error.code}${text ? `: ${text}` : error.code === 401 ? ': Unauthorized' : ''}`;
  }
  return stripCredentials(messageOf(error));
}

/** A Status object's message, or the start of a body that is not one. */
export function statusText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // Not JSON.
  }
  return body.trim().slice(0, 300);
}

/** What to do about a refusal of the API server, in parentheses; empty when there is nothing to say. */
export function hint(error: unknown): string {
  switch (statusOf(error)) {
    case 401:
      return ' (the credentials of the kubeconfig were refused: renew the token or certificate in its secret)';
    case 403:
      return ' (give the account of the kubeconfig the rights this runner needs: create/patch/delete secrets, create/get/delete jobs, list/watch/delete pods, get pods/log, list events)';
    case 404:
      return ' (does the namespace exist?)';
    default:
      return '';
  }
}

/** `https://user:password@host` → `https://host`, wherever it appears in a message. */
export function stripCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1');
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
