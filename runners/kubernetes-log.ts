// The log of an attempt's pod turned back into the task's lines. Kubernetes merges a container's
// stdout and stderr into one log: the entry script (kubernetes-job.ts) prefixes each stderr line
// with a per-attempt tag, and the wrapper prints the results between markers after the task's own
// output. An image run as built (plain) has neither: its whole log is stdout. Each task line is
// masked whole before a long one is cut, and the first cut of the raw log (into lines of at most
// a MiB or so) is made around the secrets, so no cut can split a secret.
import type { LogStream } from './runner.js';
import { createLineSplitter, MAX_LINE_BYTES } from './line-splitter.js';
import { createResultsSplitter, type RemoteScript } from './remote-script.js';
import { OUTPUT_FILE_FACTOR } from './read-outputs.js';
import type { Masker } from './mask.js';

export interface PodLog {
  /** The log's next bytes, in order. */
  write(chunk: Buffer): void;
  /** Whether the results' end marker was read: nothing of the attempt's comes after it. */
  complete(): boolean;
  /** Ends the last line; the results text printed between the markers, when it came whole. */
  end(): string | undefined;
}

export interface WrapperLogInput {
  markers: RemoteScript['markers'];
  stderrTag: string;
  maxOutputBytes: number;
  mask: Masker;
  /** Reports a line already masked. */
  emitMasked(stream: LogStream, text: string): void;
}

/** The log of a pod running the wrapper: stdout and stderr apart again, and the results split off. */
export function wrapperLog(input: WrapperLogInput): PodLog {
  const { markers, stderrTag } = input;
  const taskLine = maskedLines(input.mask, input.emitMasked);
  let resultsState: 'before' | 'inside' | 'after' = 'before';
  const results = createResultsSplitter(markers, (text) => taskLine('stdout', text));
  // The log is cut into whole lines first: a printed result may be as long as the largest output allows.
  const resultsLineBytes = Math.ceil((input.maxOutputBytes * OUTPUT_FILE_FACTOR * 4) / 3) + 4096;
  // A stderr line may arrive while stdout has written part of a line (one pipe, two writers): the
  // part before the tag is kept and continued by the next stdout line.
  let stdoutPart: string | undefined;
  const lines = createLineSplitter((text) => {
    const tagAt = text.indexOf(stderrTag);
    if (tagAt >= 0) {
      if (tagAt > 0) stdoutPart = (stdoutPart ?? '') + text.slice(0, tagAt);
      return taskLine('stderr', text.slice(tagAt + stderrTag.length));
    }
    const line = stdoutPart === undefined ? text : stdoutPart + text;
    stdoutPart = undefined;
    if (resultsState === 'before' && line === markers.start) resultsState = 'inside';
    else if (resultsState === 'inside' && line === markers.end) resultsState = 'after';
    results.line(line);
  }, resultsLineBytes, input.mask.needles);
  return {
    write: (chunk) => lines.write(chunk),
    complete: () => resultsState === 'after',
    end() {
      lines.end();
      if (stdoutPart !== undefined) results.line(stdoutPart);
      stdoutPart = undefined;
      return results.end();
    },
  };
}

/** Lines a plain container's log is first cut into (around the secrets; each is masked whole, then cut again). */
const PLAIN_LINE_BYTES = 1024 * 1024;

/** The log of an image run as built: every line is stdout, and no results are printed. */
export function plainLog(input: Pick<WrapperLogInput, 'mask' | 'emitMasked'>): PodLog {
  const taskLine = maskedLines(input.mask, input.emitMasked);
  const lines = createLineSplitter((text) => taskLine('stdout', text), PLAIN_LINE_BYTES, input.mask.needles);
  return {
    write: (chunk) => lines.write(chunk),
    complete: () => false,
    end() {
      lines.end();
      return undefined;
    },
  };
}

/** Reports a task line masked whole, then cut into pieces of at most MAX_LINE_BYTES as the local runner cuts them. */
function maskedLines(mask: (text: string) => string, emitMasked: (stream: LogStream, text: string) => void): (stream: 'stdout' | 'stderr', text: string) => void {
  return (stream, text) => {
    const masked = mask(text);
    if (Buffer.byteLength(masked) <= MAX_LINE_BYTES) return emitMasked(stream, masked);
    const pieces = createLineSplitter((piece) => emitMasked(stream, piece));
    pieces.write(Buffer.from(masked));
    pieces.end();
  };
}
