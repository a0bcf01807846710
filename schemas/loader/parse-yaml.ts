// Parses YAML text into documents that can say where every value came from, so checks can
// report file:line:column. Two parsers, for speed: js-yaml reads values (about ten times
// faster), and the `yaml` library's position-keeping parse runs only when a position or a
// scalar's source text is asked for, or when js-yaml finds an error (for exact diagnostics).
// Text that may hold an alias always takes the `yaml` path, which counts aliases before
// building values (js-yaml has no alias limit; see alias-limit.ts).
import jsyaml from 'js-yaml';
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, parseDocument, type Document, type Node } from 'yaml';
import { checkAliases, mayHoldAlias } from './alias-limit.js';
import { flowTooDeep, MAX_FLOW_DEPTH } from './flow-depth.js';
import { firstLineOf, type Diagnostic, type Position } from './diagnostic.js';
import { documentStarts } from './document-starts.js';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface SourceFile {
  /** The path shown in diagnostics, relative to where validation started. */
  path: string;
  text: string;
}

export interface YamlDocument {
  file: string;
  /** 0-based position of the document in its file. */
  index: number;
  value: unknown;
  /** Source position of the value at `path`, or of its nearest ancestor that exists. */
  locate(path: Path, at?: 'value' | 'key'): Position;
  /** The text of a scalar exactly as written (`1.0` stays `1.0`), if `path` is a scalar. */
  sourceText(path: Path): string | undefined;
}

// YAML 1.2 core types (no timestamps: `2024-01-01` stays text), plus `<<` merge keys.
// (js-yaml exports its built-in types at run time; its type declarations omit them.)
const { merge } = (jsyaml as unknown as { types: { merge: jsyaml.Type } }).types;
const SCHEMA = jsyaml.CORE_SCHEMA.extend({ implicit: [merge] });

/** How much YAML may ask of the parser; `maxAliases` defaults to 100 (`limits.yaml.maxAliases`). */
export interface YamlParseOptions {
  maxAliases?: number;
}

const DEFAULT_MAX_ALIASES = 100;

/** Parses every document of one file. Documents that are empty or only comments are skipped. */
export function parseYamlFile(file: SourceFile, options: YamlParseOptions = {}): { documents: YamlDocument[]; diagnostics: Diagnostic[] } {
  const maxAliases = options.maxAliases ?? DEFAULT_MAX_ALIASES;
  if (mayHoldAlias(file.text)) return parseWithPositions(file, maxAliases);
  let values: unknown[];
  try {
    values = jsyaml.loadAll(file.text, undefined, { schema: SCHEMA, filename: file.path });
  } catch {
    return parseWithPositions(file, maxAliases);
  }
  const located = lazy(() => parseWithPositions(file, maxAliases).documents);
  const starts = lazy(() => {
    const found = documentStarts(file.text);
    return found.length === values.length ? found : [];
  });
  const documents: YamlDocument[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) return;
    const ordinal = documents.length;
    const precise = () => located()[ordinal];
    documents.push({
      file: file.path,
      index,
      value,
      // The document's own position comes from a line scan; any other needs the exact parse.
      locate: (path, at) => (path.length === 0 ? starts()[index] : undefined) ?? precise()?.locate(path, at) ?? { line: 1, column: 1 },
      sourceText: (path) => precise()?.sourceText(path),
    });
  });
  return { documents, diagnostics: [] };
}

/** The exact parse: every error with its position, and documents that locate any path. */
function parseWithPositions(file: SourceFile, maxAliases: number): { documents: YamlDocument[]; diagnostics: Diagnostic[] } {
  const deep = flowTooDeep(file.text);
  if (deep >= 0) return { documents: [], diagnostics: [{ file: file.path, ...positionIn(file.text, deep), severity: 'error', rule: 'yaml-syntax', message: `YAML syntax: ${TOO_DEEP}` }] };
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const documents: YamlDocument[] = [];
  const parsed = parseAllDocuments(file.text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const toPosition = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  docs.forEach((doc, index) => {
    for (const error of doc.errors) {
      const { line, column } = toPosition(error.pos[0]);
      const duplicate = error.code === 'DUPLICATE_KEY';
      diagnostics.push({
        file: file.path,
        line,
        column,
        severity: 'error',
        rule: duplicate ? 'duplicate-key' : 'yaml-syntax',
        message: duplicate ? 'duplicate key: each key may appear only once in a mapping; remove or rename one' : `YAML syntax: ${firstLineOf(error.message)}`,
      });
    }
    // Empty documents (only comments, or a trailing `---`) hold no definition.
    if (doc.errors.length > 0 || doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;
    const aliases = checkAliases(doc, maxAliases);
    if (aliases) {
      diagnostics.push({ file: file.path, ...toPosition(aliases.offset), severity: 'error', rule: 'yaml-aliases', message: aliases.message });
      return;
    }
    try {
      documents.push(makeDocument(file.path, index, doc, toPosition));
    } catch (error) {
      // Parsed, but not convertible to values: an alias to an anchor that does not exist, say.
      diagnostics.push({ file: file.path, ...toPosition(doc.contents.range?.[0] ?? 0), severity: 'error', rule: 'yaml-syntax', message: `YAML: ${firstLineOf(error instanceof Error ? error.message : String(error))}` });
    }
  });
  return { documents, diagnostics };
}

function makeDocument(file: string, index: number, doc: Document, toPosition: (offset: number) => Position): YamlDocument {
  // checkAliases has bounded the aliases already; the library's own count is a different rule.
  const value: unknown = doc.toJS({ maxAliasCount: -1 });
  const nodeAt = (path: Path, at: 'value' | 'key'): Node | undefined => {
    let node: unknown = doc.contents;
    let found: Node | undefined = node as Node;
    let key: Node | undefined;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(segment));
        if (!pair) return found;
        key = isScalar(pair.key) ? pair.key : undefined;
        node = i === path.length - 1 && at === 'key' ? pair.key : pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        key = undefined;
        node = node.items[segment];
      } else {
        return found;
      }
      if (node && typeof node === 'object' && 'range' in node && node.range) found = node as Node;
      else return found;
    }
    // A block mapping or list starts on the line after its key; the key is where people look.
    if (key && (isMap(found) || isSeq(found)) && !found.flow) return key;
    return found;
  };
  const docStart = doc.contents?.range?.[0] ?? 0;
  return {
    file,
    index,
    value,
    locate(path, at = 'value') {
      const node = nodeAt(path, at);
      return toPosition(node?.range?.[0] ?? docStart);
    },
    sourceText(path) {
      if (path.length === 0) return undefined;
      const node = doc.getIn(path as PathSegment[], true);
      return isScalar(node) ? node.source : undefined;
    },
  };
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

const TOO_DEEP = `collections nested deeper than ${MAX_FLOW_DEPTH} levels; flatten the document`;

/** 1-based line and column of `offset`, without a parse. */
function positionIn(text: string, offset: number): Position {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/** A YAML text that is not valid, or asks too much: `line` and `column` are 1-based. */
export class YamlValueError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = 'YamlValueError';
  }
}

/**
 * Parses a text holding one YAML document (an event body) into its value with the YAML 1.2
 * core schema; `null` for an empty text. Throws YamlValueError with the line: a syntax error
 * (its first line only), or aliases over `maxAliases` (default 100).
 */
export function parseYamlValue(text: string, options: YamlParseOptions = {}): unknown {
  const maxAliases = options.maxAliases ?? DEFAULT_MAX_ALIASES;
  if (!mayHoldAlias(text)) {
    try {
      return jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA }) ?? null;
    } catch (error) {
      // js-yaml's own position and reason (its message would add a snippet of the text).
      const { mark, reason } = error as jsyaml.YAMLException;
      if (!mark) throw error;
      throw new YamlValueError(`line ${mark.line + 1}, column ${mark.column + 1}: ${firstLineOf(reason)}`, mark.line + 1, mark.column + 1);
    }
  }
  const lineCounter = new LineCounter();
  const fail = (offset: number, message: string): never => {
    const { line, col } = lineCounter.linePos(offset);
    throw new YamlValueError(`line ${line}, column ${col}: ${message}`, line, col);
  };
  const deep = flowTooDeep(text);
  if (deep >= 0) {
    const { line, column } = positionIn(text, deep);
    throw new YamlValueError(`line ${line}, column ${column}: ${TOO_DEEP}`, line, column);
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, schema: 'core' });
  const syntax = doc.errors[0];
  if (syntax) fail(syntax.pos[0], firstLineOf(syntax.message));
  const aliases = checkAliases(doc, maxAliases);
  if (aliases) fail(aliases.offset, aliases.message);
  try {
    return doc.toJS({ maxAliasCount: -1 }) ?? null;
  } catch (error) {
    return fail(doc.contents?.range?.[0] ?? 0, firstLineOf(error instanceof Error ? error.message : String(error)));
  }
}
