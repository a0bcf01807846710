// One page of a run's log as JSON, streamed out as it is read: lines are taken from the database
// a batch at a time (each cut at the bytes the page has left), so a page costs at most about
// `pageBytes` of memory however large the log or its chunks are. A page holds at most
// `pageBytes` bytes of lines as JSON (at least one line); `next`/`nextLine` say where the next
// page starts, and `more` whether there are more lines already.
import type { Context } from 'hono';
import type { Db } from '../../schemas/database/index.js';
import { readLogLines, type LineCursor, type StoredLine } from './run-queries.js';

export interface LogPageQuery {
  runId: string;
  task?: string;
  attempt?: number;
  from: LineCursor;
  pageBytes: number;
}

/** What the database counts for a line besides its text, to cut a batch near the page's end (its JSON is measured here). */
const LINE_OVERHEAD = 48;

/** The page as a streamed `application/json` answer; the first batch is read before answering, so a failure there is still a 500. */
export async function streamLogPage(c: Context, db: Db, query: LogPageQuery, reportError: (error: unknown, context: string) => void): Promise<Response> {
  const read = (from: LineCursor, budget: number) => readLogLines(db, { runId: query.runId, task: query.task, attempt: query.attempt, from, budget: Math.max(1, budget), lineOverhead: LINE_OVERHEAD });
  let batch: StoredLine[] | undefined = await read(query.from, query.pageBytes);
  let cursor = query.from;
  let used = 0;
  let count = 0;
  let more = false;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode('{"lines":['));
    },
    async pull(controller) {
      try {
        if (!batch || batch.length === 0) {
          controller.enqueue(encoder.encode(`],"next":${cursor.chunk},"nextLine":${cursor.line},"more":${more}}`));
          controller.close();
          return;
        }
        let text = '';
        for (const row of batch) {
          const json = JSON.stringify(row.item);
          const bytes = Buffer.byteLength(json) + 1;
          if (count > 0 && used + bytes > query.pageBytes) {
            more = true;
            break;
          }
          text += count > 0 ? `,${json}` : json;
          count++;
          used += bytes;
          cursor = { chunk: row.chunk, line: row.n === row.count ? 0 : row.n };
        }
        if (text !== '') controller.enqueue(encoder.encode(text));
        batch = more ? undefined : await read(cursor, query.pageBytes - used);
      } catch (error) {
        // The answer has started: it cannot become a 500. The client sees a body cut short.
        reportError(error, `reading the log of run ${query.runId}`);
        controller.error(error);
      }
    },
  });
  return c.body(body, 200, { 'content-type': 'application/json; charset=UTF-8' });
}
