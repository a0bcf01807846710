// The SSH runner's connections to one host: opened when an attempt first needs one, shared by
// every attempt (up to `sessionsPerConnection` sessions each; more are opened beyond that, or when
// the server allows fewer), replaced when one drops, and closed when the pool shrinks back to one.
// A connection logs in only to a server whose host key is the pinned one. Commands run through
// `sh -c`, so a user whose login shell is not POSIX (fish, csh) still runs them as meant.
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig } from 'ssh2';
import { blobType, describeKey, HOST_KEY_ALGORITHMS, type PinnedKey } from './ssh-host-key.js';
import { durationText } from './duration-text.js';
import { shellQuote } from './task-script.js';

/** How often an idle connection is checked, and how many checks may go unanswered before it counts as lost. */
const KEEPALIVE_MS = 15_000;
const KEEPALIVE_COUNT = 3;

export interface Connection {
  client: SshClient;
  ready: Promise<void>;
  /** Sessions open or being opened on it. */
  sessions: number;
  /** Most sessions it takes: sessionsPerConnection, or fewer once the server refused one (its MaxSessions is lower). */
  limit: number;
  /** False once it closed or is being closed; it is then out of the pool. */
  open: boolean;
  /** Set when it closed without the runner ending it: why. */
  lostReason?: string;
}

export interface Session {
  channel: ClientChannel;
  connection: Connection;
}

export interface CommandResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** stdout went beyond the limit asked for; reading stopped there. */
  tooBig: boolean;
}

export interface Pool {
  /** A session running `command`, on a connection with room for it (opened when needed). */
  open(command: string): Promise<Session>;
  /** Runs `command` in a session of its own; stdout is read up to `maxBytes`. */
  command(command: string, maxBytes: number): Promise<CommandResult>;
  /** A command to run (best effort) on the next connection, or before the next attempt: the remains of a lost attempt. */
  leftBehind(command: string): void;
  close(): Promise<void>;
}

export interface PoolOptions {
  host: string;
  port: number;
  user: string;
  /** Resolved secret values; the private key already checked to be usable (with its passphrase). */
  privateKey?: string;
  passphrase?: string;
  password?: string;
  where: string;
  pinned: PinnedKey | undefined;
  connectTimeoutMs: number;
  sessionsPerConnection: number;
  hidden: (text: string) => string;
}

/** Connections to one host, opened lazily and shared by its attempts; see the file's opening paragraph. */
export function createPool(options: PoolOptions): Pool {
  const connections: Connection[] = [];
  const leftovers = new Set<string>();
  const cleanups = new Set<Promise<void>>();
  let closed = false;

  const connectTo = (): Connection => {
    const client = new ssh2.Client();
    let offered: Buffer | undefined;
    let lastError: Error | undefined;
    let ready = false;
    const connection: Connection = { client, ready: Promise.resolve(), sessions: 0, limit: options.sessionsPerConnection, open: true };
    connections.push(connection);
    connection.ready = new Promise<void>((resolve, reject) => {
      client.on('ready', () => {
        ready = true;
        resolve();
        flushLeftovers();
      });
      client.on('error', (error: Error) => {
        lastError = error;
        if (!ready) reject(new Error(options.hidden(connectError(error, offered, options))));
      });
      client.on('close', () => {
        if (connection.open) connection.lostReason = lastError ? options.hidden(lastError.message) : 'the server closed it';
        connection.open = false;
        const index = connections.indexOf(connection);
        if (index !== -1) connections.splice(index, 1);
        if (!ready) reject(new Error(options.hidden(connectError(lastError ?? new Error('the server closed the connection during the handshake'), offered, options))));
      });
      if (options.password !== undefined) {
        const password = options.password;
        client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => finish(prompts.map(() => password)));
      }
      const config: ConnectConfig = {
        host: options.host,
        port: options.port,
        username: options.user,
        readyTimeout: options.connectTimeoutMs,
        keepaliveInterval: KEEPALIVE_MS,
        keepaliveCountMax: KEEPALIVE_COUNT,
        hostVerifier: (key: Buffer) => {
          offered = key;
          return options.pinned !== undefined && key.equals(options.pinned.blob);
        },
        // Only the pinned key's type is asked for, so a host with several keys shows the pinned one.
        ...(options.pinned ? { algorithms: { serverHostKey: HOST_KEY_ALGORITHMS[options.pinned.type] ?? [] } } : {}),
        ...(options.privateKey === undefined ? {} : { privateKey: options.privateKey }),
        ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        ...(options.password === undefined ? {} : { password: options.password, tryKeyboard: true }),
      };
      try {
        client.connect(config);
      } catch (error) {
        connection.open = false;
        connections.splice(connections.indexOf(connection), 1);
        reject(new Error(options.hidden(`could not connect to ${options.where}: ${messageOf(error)}`)));
      }
    });
    // Callers await `ready`; this only keeps a failure nobody waits for from being reported as unhandled.
    connection.ready.catch(() => undefined);
    return connection;
  };

  const acquire = (): Connection => {
    const connection = connections.find((c) => c.open && c.sessions < c.limit) ?? connectTo();
    connection.sessions++;
    return connection;
  };

  // A connection with nothing on it goes when another one is up: the pool shrinks back to one.
  const release = (connection: Connection) => {
    connection.sessions--;
    if (connection.sessions === 0 && connection.open && connections.some((c) => c !== connection && c.open)) {
      connection.open = false;
      connections.splice(connections.indexOf(connection), 1);
      connection.client.end();
    }
  };

  const open = async (command: string, retries = 3): Promise<Session> => {
    if (closed) throw new Error(`the ssh runner for ${options.where} is closed`);
    const connection = acquire();
    try {
      await connection.ready;
    } catch (error) {
      connection.sessions--;
      throw error;
    }
    try {
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        try {
          connection.client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel)));
        } catch (error) {
          reject(error);
        }
      });
      channel.once('close', () => release(connection));
      return { channel, connection };
    } catch (error) {
      // The server refused the session (OpenSSH: more than MaxSessions): this connection takes no
      // more than it has now, and another one is used.
      const refused = connection.lostReason === undefined && /open failed/i.test(messageOf(error));
      if (refused) connection.limit = Math.max(1, connection.sessions - 1);
      release(connection);
      // The session did not open, so nothing ran: another connection may be tried.
      if (retries > 0 && (refused || connection.lostReason !== undefined) && !closed) return open(command, retries - 1);
      const why = connection.lostReason !== undefined ? ` (the connection was lost: ${connection.lostReason})` : refused ? ' (the server refused another session on the connection)' : '';
      throw new Error(options.hidden(`could not open an SSH session on ${options.where}: ${messageOf(error)}${why}`));
    }
  };

  const command = async (text: string, maxBytes: number): Promise<CommandResult> => {
    // Through `sh -c`: the user's login shell runs it, and that may not be a POSIX one (fish, csh).
    const { channel, connection } = await open(`sh -c ${shellQuote(text)}`);
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      let bytes = 0;
      let stderr = '';
      let code: number | null = null;
      let tooBig = false;
      channel.on('data', (chunk: Buffer) => {
        if (tooBig) return;
        bytes += chunk.length;
        if (bytes > maxBytes) {
          tooBig = true;
          channel.close();
        } else stdout.push(chunk);
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString('utf8');
      });
      channel.on('exit', (exitCode: number | null) => (code = exitCode));
      channel.once('close', () => {
        if (connection.lostReason !== undefined && code === null && !tooBig) reject(new Error(`the connection to ${options.where} was lost (${connection.lostReason})`));
        else resolve({ code, stdout: Buffer.concat(stdout), stderr: options.hidden(stderr), tooBig });
      });
      channel.end();
    });
  };

  const flushLeftovers = () => {
    if (closed) return;
    for (const text of [...leftovers]) {
      leftovers.delete(text);
      // Best effort: the attempt that left it already said so. Kept for later when no session opened.
      const cleanup = command(text, 4096).then(
        () => undefined,
        () => {
          if (!closed) leftovers.add(text);
        },
      );
      cleanups.add(cleanup);
      void cleanup.finally(() => cleanups.delete(cleanup));
    }
  };

  return {
    open(text) {
      if (leftovers.size > 0 && connections.some((c) => c.open)) flushLeftovers();
      return open(text);
    },
    command,
    leftBehind(text) {
      leftovers.add(text);
    },
    async close() {
      closed = true;
      await Promise.all([...cleanups]);
      const ending = connections.splice(0).map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.open = false;
            connection.client.once('close', () => resolve());
            connection.client.end();
            // A server that does not answer the goodbye: drop the socket.
            setTimeout(() => {
              connection.client.destroy();
              resolve();
            }, 2_000).unref();
          }),
      );
      await Promise.all(ending);
    },
  };
}

/** What went wrong while connecting, in words that say what to do. */
function connectError(error: Error, offered: Buffer | undefined, options: PoolOptions): string {
  const level = (error as Error & { level?: string }).level;
  const where = options.where;
  if (offered !== undefined && (options.pinned === undefined || !offered.equals(options.pinned.blob)) && /verification failed/i.test(error.message)) {
    if (options.pinned === undefined) {
      return `no host key is pinned for ${where}, so eventops did not log in. The server offered ${describeKey(offered)}; if that is the host's key (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${(blobType(offered) ?? '').replace(/^ssh-|-.*$/g, '')}_key.pub), pin it as the actuator's hostKey: "${blobType(offered)} ${offered.toString('base64')}"`;
    }
    return `the host key of ${where} does not match the pinned one: expected ${describeKey(options.pinned.blob)}, the server offered ${describeKey(offered)}. eventops did not log in. If the host's key was changed on purpose, pin the new one; otherwise the connection may be intercepted`;
  }
  if (level === 'client-authentication') {
    const given = [options.privateKey === undefined ? '' : 'private key', options.password === undefined ? '' : 'password'].filter(Boolean).join(' and ');
    return `could not log in to ${where} as ${options.user}: the server accepted none of the credentials given (${given}); check the user and that the key is in its authorized_keys`;
  }
  if (level === 'client-timeout') return `could not connect to ${where}: no SSH handshake within ${durationText(options.connectTimeoutMs)} (is the host reachable, and is it an SSH server?)`;
  return `could not connect to ${where}: ${error.message}`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
