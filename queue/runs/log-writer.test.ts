// The log writer against real PostgreSQL: a task printing more than its cap stores its first and
// last part with a "truncated N bytes" line (within the cap plus a little), chunks stay small, and
// a log under the cap is stored whole.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, logChunks, openDatabase, runs, type Database } from '../../schemas/database/index.js';
import { seedSources } from '../../test/helpers/api-fixture.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { createLogWriter } from './log-writer.js';

let test: TestDatabase;
let database: Database;
let dataDir: string;
let revisionId: number;

beforeAll(async () => {
  test = await createTestDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'eventops-log-writer-'));
  database = await openDatabase({ url: test.url, dataDir });
  revisionId = (await seedSources(database.db)).active;
});
afterAll(async () => {
  await database?.close();
  await test?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function newRun(id: string): Promise<void> {
  const eventId = randomUUID();
  await database.db.insert(events).values({ id: eventId, source: 'api', type: 'test', status: 'matched' });
  await database.db.insert(runs).values({ id, source: 'ops', trigger: 'on-deploy', pipeline: 'build', pipelineIndex: 0, revisionId, eventId, status: 'running' });
}

async function stored(runId: string) {
  const chunks = await database.db.select().from(logChunks).where(eq(logChunks.runId, runId)).orderBy(asc(logChunks.id));
  return chunks;
}

describe('createLogWriter', () => {
  it('keeps a log over its cap to the first and last part with a "truncated N bytes" line', async () => {
    await newRun('run-big');
    const cap = 200_000;
    const writer = createLogWriter(database.db, { runId: 'run-big', task: 't', attempt: 1 }, { maxBytes: cap, flushMs: 20 });
    const text = 'y'.repeat(950);
    const total = 2_000;
    for (let i = 0; i < total; i++) writer.write({ at: i, stream: 'stdout', text: `${String(i).padStart(5, '0')} ${text}` });
    const rest = await writer.drain();
    const chunks = await stored('run-big');
    const lines = [...chunks.flatMap((c) => c.lines), ...rest];
    const bytes = lines.reduce((sum, line) => sum + Buffer.byteLength(line.text) + 48, 0);
    // The cap plus the two lines eventops adds.
    expect(bytes).toBeLessThanOrEqual(cap + 400);
    const texts = lines.map((l) => l.text);
    expect(texts[0]).toMatch(/^00000 /);
    expect(texts.at(-1)).toMatch(/^01999 /);
    const marker = texts.find((t) => /truncated \d+ bytes/.test(t));
    expect(marker).toBeDefined();
    const kept = texts.filter((t) => /^\d{5} /.test(t)).length;
    const dropped = Number(/truncated (\d+) bytes/.exec(marker ?? '')?.[1]);
    expect(dropped).toBe((total - kept) * (text.length + 6));
    // Every line is either kept or counted as dropped, in order.
    const numbers = texts.filter((t) => /^\d{5} /.test(t)).map((t) => Number(t.slice(0, 5)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    for (const chunk of chunks) expect(chunk.lines.reduce((sum, line) => sum + Buffer.byteLength(line.text), 0)).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
  });

  it('stores a log under its cap whole', async () => {
    await newRun('run-small');
    const writer = createLogWriter(database.db, { runId: 'run-small', task: 't', attempt: 1 }, { maxBytes: 1_000_000, flushMs: 20 });
    for (let i = 0; i < 100; i++) writer.write({ at: i, stream: 'stdout', text: `line ${i}` });
    const rest = await writer.drain();
    const texts = [...(await stored('run-small')).flatMap((c) => c.lines), ...rest].map((l) => l.text);
    expect(texts).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
  });
});
