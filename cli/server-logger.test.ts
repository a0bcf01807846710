// The server's logger keeps a failed query's error small: a 5 MB parameter refused by a real
// PostgreSQL database used to be written three times (message, stack, params).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../schemas/database/index.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/postgres.js';
import { boundedText, createServerLogger, MAX_LOGGED_LINE } from './server-logger.js';

describe('the server logger', () => {
  let pg: TestDatabase;
  let database: Database;
  let dataDir: string;

  beforeAll(async () => {
    pg = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-logger-'));
    database = await openDatabase({ url: pg.url, dataDir });
  }, 60_000);
  afterAll(async () => {
    await database.close();
    await pg.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('logs a failed 5 MB insert in a few KB, keeping the query, the cause and the stack frames', async () => {
    const huge = JSON.stringify({ text: `${'x'.repeat(5 * 1024 * 1024)}\u0000` });
    const error = await database.db.execute(sql`select ${huge}::jsonb`).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    let written = '';
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => ((written += chunk.toString()), done()) });
    const logger = createServerLogger('info', sink);
    logger.error({ err: error, context: 'POST /api/v1/events' }, 'request failed');
    expect(written.length).toBeLessThan(20_000);
    const line = JSON.parse(written) as { err: { message: string; stack: string; params: unknown[] } };
    expect(line.err.message).toMatch(/^Failed query: select \$1::jsonb\nparams: \{"text":"xxx.*…\(\d+ more characters\)/);
    expect(line.err.stack).toMatch(/\n\s+at /);
    expect(String(line.err.params[0])).toHaveLength(MAX_LOGGED_LINE + `…(${huge.length - MAX_LOGGED_LINE} more characters)`.length);
    expect(written).toMatch(/unsupported Unicode escape sequence|\\\\u0000 cannot be converted/);
  });

  it('cuts each line and the number of lines of a text', () => {
    expect(boundedText('short')).toBe('short');
    expect(boundedText('a'.repeat(1000))).toBe(`${'a'.repeat(MAX_LOGGED_LINE)}…(${1000 - MAX_LOGGED_LINE} more characters)`);
    expect(boundedText(Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n')).split('\n')).toHaveLength(61);
  });
});
