// Puts a hono application on a port with @hono/node-server, and takes it down again without
// waiting for idle keep-alive connections to time out.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';

export interface HttpServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Default `0.0.0.0` (every IPv4 interface). */
  host?: string;
  /** Requests to switch protocols (WebSockets); returns false for those it does not handle (they are refused). */
  upgrade?(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

export interface HttpServer {
  /** Where a client on this machine reaches the server, e.g. `http://127.0.0.1:8080`. */
  url: string;
  port: number;
  /** Stops accepting, ends open connections, resolves when closed. Idempotent. */
  close(): Promise<void>;
}

/** How long `close` lets requests in flight finish before it cuts their connections. */
const CLOSE_GRACE_MS = 3_000;

/** Listens and resolves once the port is bound; rejects when it cannot be (e.g. in use). */
export function startHttpServer(app: Hono, options: HttpServerOptions): Promise<HttpServer> {
  const host = options.host ?? '0.0.0.0';
  return new Promise((resolve, reject) => {
    // Plain HTTP (no TLS or HTTP/2 options), so the server is a node:http Server.
    const server = serve({ fetch: app.fetch, port: options.port, hostname: host }, (info: AddressInfo) => {
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
