// How commands print structured results: `--output table|json|yaml`.
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: string): OutputFormat {
  const format = value === 'text' ? 'table' : value;
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--output must be one of: ${OUTPUT_FORMATS.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return format as OutputFormat;
}

export function serialize(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value);
}

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  /** The environment commands read (EVENTOPS_SERVER, …); default process.env. Tests inject their own. */
  env?: Record<string, string | undefined>;
}
