// `eventops convert FILE…`: prints original eventops files in the v1 language, so a team can
// commit the converted form. Problems found while converting are printed to stderr.
import { stringify } from 'yaml';
import { formatDiagnostic, validateFiles } from '../../schemas/index.js';
import type { Io } from '../output.js';
import { readInputs } from '../read-inputs.js';

export async function convertCommand(paths: string[], io: Io): Promise<number> {
  const files = await readInputs(paths, io.cwd);
  const result = validateFiles(files);
  const documents = result.definitions.map((d) => `# from ${d.file}:${d.line}${d.legacy ? ` (${d.legacy})` : ''}\n${stringify(d.value, { lineWidth: 0 })}`);
  io.out(documents.join('---\n'));
  for (const d of result.diagnostics) if (d.rule !== 'legacy-format') io.err(`${formatDiagnostic(d)}\n`);
  return result.errors > 0 ? 1 : 0;
}
