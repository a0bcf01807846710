// A load generator in its own process, as a real client would be: POSTs one body to one URL from
// `concurrency` keep-alive connections (node:http, not fetch: the client should cost the machine
// as little as possible) for a warm-up, then for the measured time. Each request gets a fresh
// X-GitHub-Delivery. Prints one JSON line: { latencies (ms, sorted), perSecond, failures }.
//   tsx test/bench/load-client.ts '{"url":…,"headers":{…},"body":…,"concurrency":50,"warmupMs":2000,"ms":8000}'
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';

interface LoadSpec {
  url: string;
  headers: Record<string, string>;
  body: string;
  concurrency: number;
  warmupMs: number;
  ms: number;
  expectStatus: number;
}

const spec = JSON.parse(process.argv[2] as string) as LoadSpec;
const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
const url = new URL(spec.url);
const body = Buffer.from(spec.body);

function post(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...spec.headers, 'x-github-delivery': randomUUID(), 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function load(ms: number): Promise<{ latencies: number[]; perSecond: number; failures: number }> {
  const latencies: number[] = [];
  let failures = 0;
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const status = await post().catch(() => 0);
        latencies.push(performance.now() - t);
        if (status !== spec.expectStatus) failures++;
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), perSecond: (latencies.length / (performance.now() - start)) * 1000, failures };
}

await load(spec.warmupMs);
const result = await load(spec.ms);
agent.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
