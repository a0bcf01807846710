// Turns a byte stream (a task's stdout or stderr) into log lines. It works on bytes, not on
// decoded text, so a multi-byte character split across two chunks still decodes whole; a
// trailing `\r` is dropped (CRLF output reads like LF output); a line longer than `maxLineBytes`
// is cut into pieces at a character boundary, so one endless line cannot grow memory without bound.

export interface LineSplitter {
  /** Feeds the next chunk; complete lines are emitted at once, in order. */
  write(chunk: Buffer): void;
  /** Emits the final partial line, if any. Call once, when the stream ends. */
  end(): void;
}

export const MAX_LINE_BYTES = 64 * 1024;

/** `emit` receives each line without its newline; lines over `maxLineBytes` (default 64 KiB) come in pieces. */
export function createLineSplitter(emit: (text: string) => void, maxLineBytes = MAX_LINE_BYTES): LineSplitter {
  let pending: Buffer[] = [];
  let pendingBytes = 0;

  const take = (): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    return all;
  };

  const append = (piece: Buffer) => {
    if (piece.length === 0) return;
    pending.push(piece);
    pendingBytes += piece.length;
    while (pendingBytes > maxLineBytes) {
      const all = take();
      const cut = characterBoundary(all, maxLineBytes);
      emit(all.subarray(0, cut).toString('utf8'));
      pending = [all.subarray(cut)];
      pendingBytes = all.length - cut;
    }
  };

  const endLine = () => {
    const line = take();
    const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
    emit(line.subarray(0, end).toString('utf8'));
  };

  return {
    write(chunk) {
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(0x0a, start);
        if (newline === -1) {
          append(chunk.subarray(start));
          return;
        }
        append(chunk.subarray(start, newline));
        endLine();
        start = newline + 1;
      }
    },
    end() {
      if (pendingBytes > 0) endLine();
    },
  };
}

/** The largest cut ≤ `at` that does not fall inside a UTF-8 sequence (continuation bytes are 10xxxxxx). */
function characterBoundary(bytes: Buffer, at: number): number {
  let cut = at;
  while (cut > 0 && at - cut < 4 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut > 0 && at - cut < 4 ? cut : at;
}
