// Turns a byte stream (a task's stdout or stderr) into log lines. It works on bytes, not on
// decoded text, so a multi-byte character split across two chunks still decodes whole; a
// trailing `\r` is dropped (CRLF output reads like LF output); a line longer than `maxLineBytes`
// is cut into pieces at a character boundary, so one endless line cannot grow memory without bound.
// A cut never falls inside a text named in `keepWhole` (the secrets of a task): such a text is
// left whole in one piece, so masking the pieces masks it as masking the uncut line would.

export interface LineSplitter {
  /** Feeds the next chunk; complete lines are emitted at once, in order. */
  write(chunk: Buffer): void;
  /** Emits the final partial line, if any. Call once, when the stream ends. */
  end(): void;
}

export const MAX_LINE_BYTES = 64 * 1024;

/**
 * `emit` receives each line without its newline; lines over `maxLineBytes` (default 64 KiB) come
 * in pieces, cut where no text of `keepWhole` straddles the cut (a piece then holds up to the
 * longest such text more). Memory: at most `maxLineBytes` plus the longest text of `keepWhole`.
 */
export function createLineSplitter(emit: (text: string) => void, maxLineBytes = MAX_LINE_BYTES, keepWhole: readonly string[] = []): LineSplitter {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const needles = keepWhole.filter((text) => text.length > 0).map((text) => Buffer.from(text));
  // Bytes that must have arrived beyond a cut to know that no needle straddles it.
  const reach = needles.reduce((most, needle) => Math.max(most, needle.length - 1), 0);

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
    while (pendingBytes > maxLineBytes + reach) {
      const all = take();
      const cut = safeCut(all, characterBoundary(all, maxLineBytes), needles);
      emit(all.subarray(0, cut).toString('utf8'));
      pending = [all.subarray(cut)];
      pendingBytes = all.length - cut;
    }
  };

  const endLine = () => {
    const whole = take();
    let line = whole.subarray(0, whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length);
    // Up to `reach` bytes over the limit were kept to see past a cut: cut what is left over too.
    while (line.length > maxLineBytes) {
      const cut = safeCut(line, characterBoundary(line, maxLineBytes), needles);
      if (cut >= line.length) break;
      emit(line.subarray(0, cut).toString('utf8'));
      line = line.subarray(cut);
    }
    emit(line.toString('utf8'));
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

/**
 * `cut`, moved back to the start of any needle occurrence that straddles it (`bytes` holds at
 * least the longest needle's length past `cut`); when an occurrence straddling it starts at 0 (a
 * needle longer than the limit), the cut moves forward to its end instead.
 */
function safeCut(bytes: Buffer, cut: number, needles: readonly Buffer[]): number {
  if (needles.length === 0) return cut;
  let at = cut;
  for (let moved = true; moved && at > 0; ) {
    moved = false;
    for (const needle of needles) {
      let start = bytes.indexOf(needle, Math.max(0, at - needle.length + 1));
      while (start !== -1 && start < at) {
        if (start + needle.length > at) {
          if (start === 0) return needle.length;
          at = start;
          moved = true;
          break;
        }
        start = bytes.indexOf(needle, start + 1);
      }
    }
  }
  return at > 0 ? at : cut;
}
