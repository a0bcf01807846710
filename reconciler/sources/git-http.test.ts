// The git HTTP client against a real HTTP server that misbehaves the way servers do: a
// connection reset before any response is retried once on a fresh connection; twice is an error.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createGitHttp } from './git-http.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server that resets the connection of the first `resets` requests, then answers `ok`. */
async function resettingServer(resets: number): Promise<{ url: string; requests: () => number }> {
  let seen = 0;
  server = createServer((req, res) => {
    seen++;
    if (seen <= resets) req.socket.destroy();
    else res.end('ok');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo.git/info/refs`, requests: () => seen };
}

async function text(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<string> {
  let out = '';
  for await (const chunk of body ?? []) out += Buffer.from(chunk).toString();
  return out;
}

describe('git HTTP client', () => {
  it('retries once when the connection is reset before a response', async () => {
    const { url, requests } = await resettingServer(1);
    const http = createGitHttp({ timeoutMs: 5000, secrets: [] });
    const res = await http.client.request({ url, method: 'GET', headers: {} });
    expect(res.statusCode).toBe(200);
    expect(await text(res.body)).toBe('ok');
    expect(requests()).toBe(2);
    expect(http.failure()).toBeUndefined();
  });

  it('reports Unreachable when the retry is reset too', async () => {
    const { url, requests } = await resettingServer(2);
    const http = createGitHttp({ timeoutMs: 5000, secrets: [] });
    await expect(http.client.request({ url, method: 'GET', headers: {} })).rejects.toMatchObject({ kind: 'transient', reason: 'Unreachable' });
    expect(requests()).toBe(2);
  });
});
