// A task's log lines on their way to the database: buffered and written in chunks (every
// `flushMs` or `maxLines` lines, whichever comes first), so a chatty task costs a few INSERTs a
// second, and readers following the log (`/runs/:id/logs?follow=1`) see lines within a second.
import type { Db } from '../../schemas/database/index.js';
import { logChunks } from '../../schemas/database/index.js';
import type { LogLine } from '../../runners/index.js';

export interface LogWriter {
  write(line: LogLine): void;
  /**
   * Stops the timer, waits for chunks being written, and hands back the lines not yet written
   * instead of writing them: the caller stores them with the task's result, in its transaction.
   */
  drain(): Promise<LogLine[]>;
}

export function createLogWriter(db: Db, key: { runId: string; task: string; attempt: number }, options: { flushMs?: number; maxLines?: number; onError?: (error: unknown) => void } = {}): LogWriter {
  const flushMs = options.flushMs ?? 300;
  const maxLines = options.maxLines ?? 500;
  let buffer: LogLine[] = [];
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return writing;
    const lines = buffer;
    buffer = [];
    // Chunks are written in order: each waits for the one before.
    writing = writing
      .then(() => db.insert(logChunks).values({ ...key, lines }))
      .then(() => undefined)
      .catch((error: unknown) => options.onError?.(error));
    return writing;
  };

  return {
    write(line) {
      buffer.push(line);
      if (buffer.length >= maxLines) void flush();
      else timer ??= setTimeout(() => void flush(), flushMs);
    },
    async drain() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await writing;
      const rest = buffer;
      buffer = [];
      return rest;
    },
  };
}
