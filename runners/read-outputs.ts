// Reads a task's outputs once its script ended well: the `name=value` lines of
// `$EVENTOPS_OUTPUT`, then each declared output (those win over a line of the same name).
// `fromEnv` is the variable's final value as is; `fromFile` is the file's content as is, except
// that ONE trailing newline (`\n` or `\r\n`) is dropped, since `echo x > file` means "x".
// Bytes are decoded as UTF-8. Every value is limited to `maxBytes`, and the outputs file to
// OUTPUT_FILE_FACTOR times that, so a runaway task cannot make the server read gigabytes.
// Where the bytes come from is the caller's: files of this host (the local runner) or the
// results a remote wrapper sent back (remote-script.ts); the rules and messages are the same.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import type { TaskExecution } from './runner.js';
import { insideFolder, isWithin } from './work-folders.js';
import { parseOutputFile } from './output-file.js';

export const OUTPUT_FILE_FACTOR = 16;

export type OutputsRead = { ok: true; outputs: Record<string, string> } | { ok: false; error: string };

/** One value as found: its bytes (at most the limit asked for), or why there are none. */
export type RawValue = { kind: 'read'; bytes: Buffer } | { kind: 'missing' } | { kind: 'not-a-file' } | { kind: 'too-big' } | { kind: 'outside' };

/** Where a runner finds the raw values. Each call says the largest value it may return. */
export interface OutputSource {
  outputFile(maxBytes: number): Promise<RawValue>;
  /** The saved value of the variable `name` (a `fromEnv`). */
  capture(name: string, maxBytes: number): Promise<RawValue>;
  /** The file at `path`, relative to the work folder (already checked not to climb out by name); `index` is its place among the declared outputs. */
  file(path: string, index: number, maxBytes: number): Promise<RawValue>;
}

/** The outputs, or the first problem with one of them (naming it). */
export async function collectOutputs(declared: TaskExecution['outputs'], source: OutputSource, maxBytes: number): Promise<OutputsRead> {
  const file = await source.outputFile(maxBytes * OUTPUT_FILE_FACTOR);
  if (file.kind === 'too-big') return { ok: false, error: `$EVENTOPS_OUTPUT holds more than ${sizeText(maxBytes * OUTPUT_FILE_FACTOR)}` };
  const parsed = file.kind === 'read' ? parseOutputFile(file.bytes.toString('utf8')) : { ok: true as const, outputs: {} };
  if (!parsed.ok) return { ok: false, error: `$EVENTOPS_OUTPUT ${parsed.error}` };
  const outputs = parsed.outputs;
  for (const [name, value] of Object.entries(outputs)) {
    if (Buffer.byteLength(value) > maxBytes) return { ok: false, error: tooBig(name, 'in $EVENTOPS_OUTPUT', maxBytes) };
  }
  for (const [index, output] of declared.entries()) {
    if (output.fromEnv !== undefined) {
      const read = await source.capture(output.fromEnv, maxBytes);
      if (read.kind === 'too-big') return { ok: false, error: tooBig(output.name, `from $${output.fromEnv}`, maxBytes) };
      if (read.kind !== 'read') return { ok: false, error: `output "${output.name}": the value of $${output.fromEnv} was not saved (did a command call exit before the end?)` };
      outputs[output.name] = read.bytes.toString('utf8');
    } else if (output.fromFile !== undefined) {
      const where = `output "${output.name}": file "${output.fromFile}"`;
      if (insideFolder('/work', output.fromFile) === undefined) return { ok: false, error: `${where} is outside the work folder; give a path relative to it` };
      const read = await source.file(output.fromFile, index, maxBytes);
      switch (read.kind) {
        case 'read':
          outputs[output.name] = read.bytes.toString('utf8').replace(/\r?\n$/, '');
          break;
        case 'missing':
          return { ok: false, error: `${where} does not exist in the work folder` };
        case 'not-a-file':
          return { ok: false, error: `${where} is not a regular file` };
        case 'too-big':
          return { ok: false, error: `${where} is larger than the limit of ${sizeText(maxBytes)}` };
        case 'outside':
          return { ok: false, error: `${where} leads outside the work folder (a symbolic link)` };
      }
    }
  }
  return { ok: true, outputs };
}

export interface OutputPlaces {
  workFolder: string;
  captureDir: string;
  outputFile: string;
  maxBytes: number;
}

/** The outputs of an attempt that ran on this host, read from its folders. */
export async function readOutputs(declared: TaskExecution['outputs'], places: OutputPlaces): Promise<OutputsRead> {
  return collectOutputs(
    declared,
    {
      outputFile: (max) => readLimited(places.outputFile, max),
      capture: (name, max) => readLimited(`${places.captureDir}/${name}`, max),
      file: (path, _index, max) => readWorkFile(path, places.workFolder, max),
    },
    places.maxBytes,
  );
}

/** A file of the work folder; symbolic links may not lead out of it. */
async function readWorkFile(path: string, workFolder: string, maxBytes: number): Promise<RawValue> {
  const full = insideFolder(workFolder, path);
  if (!full) return { kind: 'outside' };
  let real: string;
  try {
    real = await realpath(full);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  if (!isWithin(await realpath(workFolder), real)) return { kind: 'outside' };
  return readLimited(real, maxBytes);
}

async function readLimited(path: string, maxBytes: number): Promise<RawValue> {
  let handle;
  try {
    // Non-blocking, so a FIFO left by the task in place of a file cannot hang the runner.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { kind: 'not-a-file' };
    if (stat.size > maxBytes) return { kind: 'too-big' };
    const bytes = await handle.readFile();
    return bytes.length > maxBytes ? { kind: 'too-big' } : { kind: 'read', bytes };
  } finally {
    await handle.close();
  }
}

function tooBig(name: string, where: string, maxBytes: number): string {
  return `output "${name}" ${where} is larger than the limit of ${sizeText(maxBytes)}; write big results to a file and pass its path instead`;
}

export function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
