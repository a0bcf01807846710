// A task's log lines on their way to the database: buffered and written in chunks (every
// `flushMs`, `maxLines` lines or `chunkBytes` bytes, whichever comes first), so a chatty task
// costs a few INSERTs a second, and readers following the log (`/runs/:id/logs?follow=1`) see
// lines within a second.
//
// The stored log of an attempt is capped at `maxBytes` (limits.logs.taskLogBytes): its first half
// is written as it comes; past it, one line says the log is over its size and the rest is kept
// in memory as a rolling window of the last half, written when the task ends after a line
// "… truncated N bytes …". The task itself is not touched: it runs on, and its outcome stands.
import type { Db } from '../../schemas/database/index.js';
import { logChunks } from '../../schemas/database/index.js';
import type { LogLine } from '../../runners/index.js';
import { DEFAULT_LIMITS } from '../../config/index.js';

export interface LogWriter {
  write(line: LogLine): void;
  /**
   * Stops the timer, waits for chunks being written, and hands back the lines not yet written
   * instead of writing them: the caller stores them with the task's result, in its transaction.
   * A truncated log's kept tail is written first (in chunks), then its last chunk handed back.
   */
  drain(): Promise<LogLine[]>;
}

export interface LogWriterOptions {
  flushMs?: number;
  maxLines?: number;
  /** Bytes of lines in one chunk at most (one line may take it over). Default 256 KiB. */
  chunkBytes?: number;
  /** Bytes of log stored for the attempt (default limits.logs.taskLogBytes, 10 MiB); see logLineBytes. */
  maxBytes?: number;
  onError?: (error: unknown) => void;
}

/** What a line counts against the cap: its text's UTF-8 bytes plus this, for its time and stream as stored. */
export const LINE_OVERHEAD_BYTES = 48;

export function logLineBytes(line: LogLine): number {
  return Buffer.byteLength(line.text) + LINE_OVERHEAD_BYTES;
}

export function createLogWriter(db: Db, key: { runId: string; task: string; attempt: number }, options: LogWriterOptions = {}): LogWriter {
  const flushMs = options.flushMs ?? 300;
  const maxLines = options.maxLines ?? 500;
  const chunkBytes = options.chunkBytes ?? 256 * 1024;
  const maxBytes = options.maxBytes ?? DEFAULT_LIMITS.logs.taskLogBytes;
  // The head is written as it comes; the tail window keeps the rest of the budget.
  const headBytes = Math.floor(maxBytes / 2);
  const tailBytes = maxBytes - headBytes;
  let buffer: LogLine[] = [];
  let bufferBytes = 0;
  let written = 0;
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  // Past the head: the last lines (at most tailBytes), and the bytes dropped from before them.
  // `lines` from index `start` on are kept; the array is compacted now and then, not shifted per line.
  let tail: { lines: LogLine[]; start: number; bytes: number; dropped: number; droppedLines: number } | undefined;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return writing;
    const lines = buffer;
    buffer = [];
    bufferBytes = 0;
    // Chunks are written in order: each waits for the one before.
    writing = writing
      .then(() => db.insert(logChunks).values({ ...key, lines }))
      .then(() => undefined)
      .catch((error: unknown) => options.onError?.(error));
    return writing;
  };

  const buffered = (line: LogLine, bytes: number) => {
    buffer.push(line);
    bufferBytes += bytes;
    if (buffer.length >= maxLines || bufferBytes >= chunkBytes) void flush();
    else timer ??= setTimeout(() => void flush(), flushMs);
  };

  return {
    write(line) {
      const bytes = logLineBytes(line);
      if (!tail && written + bytes <= headBytes) {
        written += bytes;
        buffered(line, bytes);
        return;
      }
      if (!tail) {
        tail = { lines: [], start: 0, bytes: 0, dropped: 0, droppedLines: 0 };
        buffered({ at: line.at, stream: 'system', text: `… the log is over ${sizeText(maxBytes)} (limits.logs.taskLogSize): its last ${sizeText(tailBytes)} are written when the task ends …` }, LINE_OVERHEAD_BYTES);
      }
      tail.lines.push(line);
      tail.bytes += bytes;
      // A rolling window: the oldest lines make room.
      while (tail.bytes > tailBytes && tail.start < tail.lines.length) {
        const old = tail.lines[tail.start++]!;
        tail.bytes -= logLineBytes(old);
        tail.dropped += Buffer.byteLength(old.text);
        tail.droppedLines++;
      }
      if (tail.start > 1024 && tail.start * 2 > tail.lines.length) {
        tail.lines = tail.lines.slice(tail.start);
        tail.start = 0;
      }
    },
    async drain() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (tail) {
        const kept = tail;
        tail = undefined;
        const lines = kept.lines.slice(kept.start);
        buffered({ at: lines[0]?.at ?? Date.now(), stream: 'system', text: `… truncated ${kept.dropped} bytes (${kept.droppedLines} lines) …` }, LINE_OVERHEAD_BYTES);
        for (const line of lines) buffered(line, logLineBytes(line));
        if (timer) clearTimeout(timer);
        timer = undefined;
      }
      await writing;
      const rest = buffer;
      buffer = [];
      bufferBytes = 0;
      return rest;
    },
  };
}

function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
