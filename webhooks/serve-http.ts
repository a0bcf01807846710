// Puts a hono application on a port with @hono/node-server, and takes it down again without
// waiting for idle keep-alive connections to time out. The connections it keeps open are bounded
// (limits.http.maxConnections: node closes a new one beyond at once), and so is the time a client
// may take to send a request's headers and body, so no crowd of slow clients holds it for ever.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { DEFAULT_LIMITS, type Limits } from '../config/index.js';

export interface HttpServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default `0.0.0.0` (every IPv4 interface). */
  host?: string;
  /** Requests to switch protocols (WebSockets); returns false for those it does not handle (they are refused). */
  upgrade?(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** maxConnections and bodyTimeoutMs are used here (default DEFAULT_LIMITS.http). */
  limits?: Limits['http'];
  /** Told (at most every 10 s) that connections were closed at the maxConnections bound. */
  warn?(message: string, fields: Record<string, unknown>): void;
}

export interface HttpServer {
  /** Where a client on this machine reaches the server, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Stops accepting, ends open connections, resolves when closed. Idempotent. */
  close(): Promise<void>;
}

/** The warning about connections closed at maxConnections is written at most this often. */
const DROP_WARNING_EVERY_MS = 10_000;

/** How long `close` lets requests in flight finish before it cuts their connections. */
const CLOSE_GRACE_MS = 3_000;

/** Node's own headers timeout (60 s), or the body timeout when that is shorter. */
const HEADERS_TIMEOUT_MS = 60_000;

/** How often node looks for requests past their headers or request timeout (its default, 30 s, would let them overstay by as much). */
const TIMEOUT_CHECK_MS = 1_000;

/** Listens and resolves once the port is bound; rejects when it cannot be (e.g. in use). */
export function startHttpServer(app: Hono, options: HttpServerOptions): Promise<HttpServer> {
  const host = options.host ?? '0.0.0.0';
  const limits = options.limits ?? DEFAULT_LIMITS.http;
  // Slow headers (slowloris) end at headersTimeout; a whole request — headers and a body nobody
  // reads — at requestTimeout (node answers 408 and closes). A body being read has its own,
  // shorter deadline (readRawBody: 408).
  const headersTimeout = Math.min(HEADERS_TIMEOUT_MS, limits.bodyTimeoutMs);
  const serverOptions = { headersTimeout, requestTimeout: headersTimeout + limits.bodyTimeoutMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS };
  return new Promise((resolve, reject) => {
    // Plain HTTP (no TLS or HTTP/2 options), so the server is a node:http Server.
    const server = serve({ fetch: app.fetch, port: options.port, hostname: host, serverOptions }, (info: AddressInfo) => {
      server.off('error', reject);
      let closed: Promise<void> | undefined;
      resolve({
        url: `http://${urlHost(host)}:${info.port}`,
        port: info.port,
        close: () =>
          (closed ??= new Promise<void>((done, fail) => {
            // Requests in flight (an event being accepted) finish; idle keep-alive connections end
            // now; what is still open after a grace (a log followed live) is cut.
            const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
            server.close((error) => {
              clearTimeout(cut);
              if (error) fail(error);
              else done();
            });
            server.closeIdleConnections();
          })),
      });
    }) as Server;
    server.once('error', reject);
    // Beyond it node closes each new connection at once (agents' WebSockets count too); a probe
    // on a connection it already holds is still answered.
    server.maxConnections = limits.maxConnections;
    let dropped = 0;
    let warnedAt = 0;
    server.on('drop', () => {
      dropped++;
      const now = Date.now();
      if (now - warnedAt < DROP_WARNING_EVERY_MS) return;
      options.warn?.(`connections closed at once: ${limits.maxConnections} are open (limits.http.maxConnections)`, { dropped, maxConnections: limits.maxConnections });
      warnedAt = now;
      dropped = 0;
    });
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!options.upgrade?.(request, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
  });
}

/** A wildcard address is not something to connect to: use this machine's loopback instead. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
