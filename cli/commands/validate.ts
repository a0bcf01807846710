// `eventops validate [paths…]`: checks definition files as the reconciler would and prints
// `file:line:col: error|warning: message [rule]`. Exit 0 valid, 1 invalid, 2 usage error.
import { formatDiagnostic, validateFiles } from '../../schemas/index.js';
import { serialize, type Io, type OutputFormat } from '../output.js';
import { readInputs } from '../read-inputs.js';

export interface ValidateOptions {
  output: OutputFormat;
  /** Warnings fail the check too (exit 1). */
  strict?: boolean;
}

export async function validateCommand(paths: string[], options: ValidateOptions, io: Io): Promise<number> {
  const targets = paths.length > 0 ? paths : ['.'];
  const files = await readInputs(targets, io.cwd);
  const result = validateFiles(files);
  const failed = result.errors > 0 || (options.strict === true && result.warnings > 0);
  if (options.output === 'json' || options.output === 'yaml') {
    io.out(
      serialize(
        {
          valid: !failed,
          files: files.length,
          definitions: result.definitions.length,
          errors: result.errors,
          warnings: result.warnings,
          diagnostics: result.diagnostics,
        },
        options.output,
      ),
    );
  } else {
    for (const d of result.diagnostics) io.out(`${formatDiagnostic(d)}\n`);
    const counts = `${plural(files.length, 'file')}, ${plural(result.definitions.length, 'definition')}: ${plural(result.errors, 'error')}, ${plural(result.warnings, 'warning')}`;
    if (files.length === 0) io.err(`no .yaml or .yml files found in ${targets.join(', ')}\n`);
    io.out(`${failed ? '✗' : '✓'} ${counts}\n`);
  }
  return failed ? 1 : 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
