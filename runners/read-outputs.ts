// Reads a task's outputs once its script ended well: the `name=value` lines of
// `$EVENTOPS_OUTPUT`, then each declared output (those win over a line of the same name).
// `fromEnv` is the variable's final value as is; `fromFile` is the file's content as is, except
// that ONE trailing newline (`\n` or `\r\n`) is dropped, since `echo x > file` means "x".
// Bytes are decoded as UTF-8. Every value is limited to `maxBytes`, and the outputs file to
// OUTPUT_FILE_FACTOR times that, so a runaway task cannot make the server read gigabytes.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import type { TaskExecution } from './runner.js';
import { insideFolder, isWithin } from './work-folders.js';
import { parseOutputFile } from './output-file.js';

export const OUTPUT_FILE_FACTOR = 16;

export type OutputsRead = { ok: true; outputs: Record<string, string> } | { ok: false; error: string };

export interface OutputPlaces {
  workFolder: string;
  captureDir: string;
  outputFile: string;
  maxBytes: number;
}

export async function readOutputs(declared: TaskExecution['outputs'], places: OutputPlaces): Promise<OutputsRead> {
  const { maxBytes } = places;
  const file = await readLimited(places.outputFile, maxBytes * OUTPUT_FILE_FACTOR);
  if (file.kind === 'too-big') return { ok: false, error: `$EVENTOPS_OUTPUT holds more than ${sizeText(maxBytes * OUTPUT_FILE_FACTOR)}` };
  const parsed = file.kind === 'read' ? parseOutputFile(file.bytes.toString('utf8')) : { ok: true as const, outputs: {} };
  if (!parsed.ok) return { ok: false, error: `$EVENTOPS_OUTPUT ${parsed.error}` };
  const outputs = parsed.outputs;
  for (const [name, value] of Object.entries(outputs)) {
    if (Buffer.byteLength(value) > maxBytes) return { ok: false, error: tooBig(name, 'in $EVENTOPS_OUTPUT', maxBytes) };
  }
  for (const output of declared) {
    if (output.fromEnv !== undefined) {
      const read = await readLimited(`${places.captureDir}/${output.fromEnv}`, maxBytes);
      if (read.kind === 'missing' || read.kind === 'not-a-file') return { ok: false, error: `output "${output.name}": the value of $${output.fromEnv} was not saved (did a command call exit before the end?)` };
      if (read.kind === 'too-big') return { ok: false, error: tooBig(output.name, `from $${output.fromEnv}`, maxBytes) };
      outputs[output.name] = read.bytes.toString('utf8');
    } else if (output.fromFile !== undefined) {
      const read = await readOutputFile(output.fromFile, places.workFolder, maxBytes);
      if (typeof read === 'string') return { ok: false, error: `output "${output.name}": ${read}` };
      outputs[output.name] = read.toString('utf8').replace(/\r?\n$/, '');
    }
  }
  return { ok: true, outputs };
}

/** The file's bytes, or why it cannot be an output. Symbolic links may not lead out of the work folder. */
async function readOutputFile(path: string, workFolder: string, maxBytes: number): Promise<Buffer | string> {
  const where = `file "${path}"`;
  const full = insideFolder(workFolder, path);
  if (!full) return `${where} is outside the work folder; give a path relative to it`;
  let real: string;
  try {
    real = await realpath(full);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `${where} does not exist in the work folder`;
    throw error;
  }
  if (!isWithin(await realpath(workFolder), real)) return `${where} leads outside the work folder (a symbolic link)`;
  const read = await readLimited(real, maxBytes);
  if (read.kind === 'missing') return `${where} does not exist in the work folder`;
  if (read.kind === 'not-a-file') return `${where} is not a regular file`;
  if (read.kind === 'too-big') return `${where} is larger than the limit of ${sizeText(maxBytes)}`;
  return read.bytes;
}

type Limited = { kind: 'read'; bytes: Buffer } | { kind: 'missing' } | { kind: 'not-a-file' } | { kind: 'too-big' };

async function readLimited(path: string, maxBytes: number): Promise<Limited> {
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

function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
