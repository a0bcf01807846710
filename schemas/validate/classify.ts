// Turns a parsed YAML document into a definition: reads apiVersion and kind, or recognises
// an original eventops file and converts it, then keeps string text and checks the schema.
import { API_VERSION, KindSchemas, Kinds, type Kind } from '../language/index.js';
import { convertLegacy, detectLegacy } from '../legacy/index.js';
import type { Diagnostic } from '../loader/diagnostic.js';
import { keepStringText } from '../loader/keep-string-text.js';
import type { Path, YamlDocument } from '../loader/parse-yaml.js';
import type { Definition } from './definition.js';
import { checkStructure } from './structure.js';

/** Classifies and schema-checks one document; returns undefined when it is no definition at all. */
export function toDefinition(doc: YamlDocument, diagnostics: Diagnostic[]): Definition | undefined {
  const value = doc.value;
  const at = (path: Path, rule: string, message: string) =>
    diagnostics.push({ file: doc.file, ...doc.locate(path), severity: 'error', rule, message });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    at([], 'unknown-document', 'a definition must be a mapping with `apiVersion`, `kind`, `metadata` and `spec`');
    return undefined;
  }
  const record = value as Record<string, unknown>;
  if (record.apiVersion === undefined && record.kind === undefined) {
    const format = detectLegacy(record);
    if (!format) {
      at([], 'unknown-document', `this document has no \`apiVersion\`; start it with \`apiVersion: ${API_VERSION}\` and a \`kind\` (${Kinds.join(', ')})`);
      return undefined;
    }
    const conversion = convertLegacy(record, format, (path) => doc.sourceText(path));
    for (const p of conversion.problems) {
      diagnostics.push({ file: doc.file, ...doc.locate(p.path), severity: p.severity ?? 'error', rule: p.rule ?? 'legacy-convert', message: p.message });
    }
    diagnostics.push({
      file: doc.file,
      ...doc.locate([]),
      severity: 'warning',
      rule: 'legacy-format',
      message: `original eventops ${format} converted to ${API_VERSION} ${conversion.kind}; \`eventops convert FILE\` prints the v1 form to commit instead`,
    });
    // A conversion that already failed (a refused credential, say) would only repeat itself
    // as schema errors about the missing parts: report the cause once.
    const failed = conversion.problems.some((p) => (p.severity ?? 'error') === 'error');
    return build(doc, conversion.kind, conversion.value, format, conversion.sourcePath, failed ? [] : diagnostics, failed);
  }
  if (record.apiVersion !== API_VERSION && !(record.apiVersion === undefined && record.kind === 'Event')) {
    at(['apiVersion'], 'api-version', `unsupported apiVersion ${JSON.stringify(record.apiVersion)}; use \`${API_VERSION}\``);
    return undefined;
  }
  if (!Kinds.includes(record.kind as Kind)) {
    at(['kind'], 'unknown-kind', `unknown kind ${JSON.stringify(record.kind)}; use one of: ${Kinds.join(', ')}`);
    return undefined;
  }
  return build(doc, record.kind as Kind, record, undefined, (p) => p, diagnostics);
}

function build(
  doc: YamlDocument,
  kind: Kind,
  raw: unknown,
  legacy: string | undefined,
  sourcePath: (path: Path) => Path,
  diagnostics: Diagnostic[],
  failed = false,
): Definition {
  const locate = (path: Path, at?: 'value' | 'key') => doc.locate(sourcePath(path), at);
  const mapped: YamlDocument = legacy
    ? { ...doc, locate, sourceText: (path) => doc.sourceText(sourcePath(path)) }
    : doc;
  const value = keepStringText(raw, KindSchemas[kind], mapped);
  const errors = checkStructure(kind, value, mapped);
  diagnostics.push(...errors);
  const metadata = (value as { metadata?: { name?: unknown } }).metadata;
  return {
    kind,
    name: typeof metadata?.name === 'string' ? metadata.name : '',
    file: doc.file,
    // Positions cost a second, exact parse: only look them up when someone asks.
    get line() {
      return doc.locate([]).line;
    },
    get column() {
      return doc.locate([]).column;
    },
    value,
    ...(legacy ? { legacy } : {}),
    valid: errors.length === 0 && !failed,
    document: mapped,
    locate,
  };
}
