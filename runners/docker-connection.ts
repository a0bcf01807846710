// How the docker runner reaches a Docker host, and how it words what went wrong there: dockerode's
// options for a unix socket or TCP (with TLS), the host as shown in messages (never with
// credentials), and messages that tell a daemon that cannot be reached from one that refused a call.
// Every API call has a deadline (`withDeadline`): a daemon that was killed, or a port that accepts
// and never answers, fails the call instead of holding the task for ever.
import http from 'node:http';
import https from 'node:https';
import type Docker from 'dockerode';

export interface DockerConnection {
  options: Docker.DockerOptions & { agent: http.Agent };
  /** Owned by the runner, so close() can release its sockets. */
  agent: http.Agent;
  /** The host as shown in messages, without credentials. */
  display: string;
}

/** A Docker call that failed: its message says what could not be done where. */
export class DockerStepError extends Error {}

/** A Docker call that got no answer before its deadline (limits.docker.apiTimeoutMs). */
export class DockerDeadlineError extends Error {
  override readonly name = 'DockerDeadlineError';
}

/** Default deadline of one Docker API call (limits.docker.apiTimeoutMs). */
export const DEFAULT_API_TIMEOUT_MS = 30_000;

/**
 * Runs one Docker API call with a deadline. `call` gets a signal (to hand to dockerode as
 * `abortSignal`) aborted at the deadline or when `signal` aborts; the returned promise settles by
 * then even if the call ignores it: a DockerDeadlineError at the deadline, the signal's reason on
 * an abort. Not for the task's own streams (attach, wait), which last as long as the task.
 */
export function withDeadline<T>(host: string, what: string, timeoutMs: number, call: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (done: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      done();
    };
    const onAbort = () => {
      controller.abort();
      finish(() => reject(abortReason(signal!)));
    };
    const timer = setTimeout(() => {
      controller.abort();
      finish(() => reject(new DockerDeadlineError(`the Docker host ${host} did not answer within ${secondsText(timeoutMs)} when asked to ${what}: is the daemon running and responsive? (the deadline is limits.docker.apiTimeoutMs)`)));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    let started: Promise<T>;
    try {
      started = call(controller.signal);
    } catch (error) {
      finish(() => reject(error instanceof Error ? error : new Error(String(error))));
      return;
    }
    started.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}

/** Whether the failure is a call that got no answer before its deadline. */
export function missedDeadline(error: unknown): boolean {
  return error instanceof DockerDeadlineError || (error instanceof DockerStepError && error.cause instanceof DockerDeadlineError);
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

function secondsText(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/**
 * dockerode's options for `host` (default `unix:///var/run/docker.sock`) and `tls` (PEM texts);
 * throws, saying what to give instead, for a host this runner cannot use (`ssh://` among them).
 */
export function dockerConnection(host: string = 'unix:///var/run/docker.sock', tlsOptions?: { ca?: string; cert?: string; key?: string }): DockerConnection {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new Error(`the Docker host "${host}" is not a URL: give unix:///path/to/docker.sock or tcp://host:port`);
  }
  switch (url.protocol) {
    case 'unix:': {
      if (url.pathname === '' || url.pathname === '/') throw new Error(`the Docker host "${host}" names no socket: give unix:///path/to/docker.sock`);
      const agent = new http.Agent({ keepAlive: true });
      return { options: { socketPath: decodeURIComponent(url.pathname), agent }, agent, display: `unix://${url.pathname}` };
    }
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const tls = tlsOptions !== undefined || url.protocol === 'https:';
      const port = url.port === '' ? (tls ? 2376 : 2375) : Number(url.port);
      const display = `tcp://${url.hostname}:${port}`;
      if (!tls) {
        const agent = new http.Agent({ keepAlive: true });
        return { options: { host: url.hostname, port, protocol: 'http', agent }, agent, display };
      }
      const agent = new https.Agent({ keepAlive: true });
      const { ca, cert, key } = tlsOptions ?? {};
      return { options: { host: url.hostname, port, protocol: 'https', agent, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) }, agent, display: `${display} (TLS)` };
    }
    case 'ssh:':
      throw new Error(`the Docker host ssh://${url.host} cannot be used: the docker runner does not speak SSH; forward the remote socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock ${url.host}) and use unix:///tmp/docker.sock, or expose the daemon over tcp:// with TLS`);
    default:
      throw new Error(`the Docker host "${url.protocol}//${url.host}${url.pathname}" is not one the docker runner can use: give unix:///path/to/docker.sock or tcp://host:port`);
  }
}

/** Runs one Docker call; a failure becomes a DockerStepError saying what could not be done on `host`. */
export async function dockerStep<T>(host: string, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new DockerStepError(stepMessage(what, host, error), { cause: error });
  }
}

/** The HTTP status of a failed Docker API call, if it got that far. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The daemon's own message when there is one (dockerode wraps it in `(HTTP code …) … - `); OpenSSL's reason alone. */
export function dockerMessage(error: unknown): string {
  const json = (error as { json?: unknown } | undefined)?.json;
  if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') return (json as { message: string }).message;
  const message = (error instanceof Error ? error.message : String(error)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(message);
  if (!ssl) return message;
  const reason = `TLS: ${ssl[1]}`;
  return /bad certificate|certificate required/.test(reason) ? `${reason} (the daemon did not accept the client certificate: give tls.cert and tls.key, signed by the CA the daemon trusts)` : reason;
}

/** True when the failure is reaching the daemon at all (socket, network or TLS), not a refusal by it. */
export function unreachable(error: unknown): boolean {
  if (statusOf(error) !== undefined) return false;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return false;
  return ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EPROTO'].includes(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
}

export function stepMessage(what: string, host: string, error: unknown): string {
  if (error instanceof DockerDeadlineError) return error.message;
  if (unreachable(error)) return `the Docker host ${host} cannot be reached (${dockerMessage(error)}): is the daemon running there, and are the host and its TLS settings right?`;
  return `could not ${what} on the Docker host ${host}: ${dockerMessage(error)}`;
}
