// Checks one document against the JSON Schema of its kind and turns Ajv's errors into
// diagnostics that point at the offending key or value and say what is allowed.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { KindSchemas, type Kind } from '../language/index.js';
import type { Diagnostic } from '../loader/diagnostic.js';
import type { PathSegment, YamlDocument } from '../loader/parse-yaml.js';
import { suggestion } from './suggest.js';

let validators: Map<Kind, ValidateFunction> | undefined;

function validatorFor(kind: Kind): ValidateFunction {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    validators = new Map(Object.entries(KindSchemas).map(([k, schema]) => [k as Kind, ajv.compile(schema)]));
  }
  return validators.get(kind) as ValidateFunction;
}

/** Validates `value` (the document's value after string-keeping) as `kind`; returns diagnostics, empty when valid. */
export function checkStructure(kind: Kind, value: unknown, doc: YamlDocument): Diagnostic[] {
  const validate = validatorFor(kind);
  if (validate(value)) return [];
  return explain(validate.errors ?? [], value, doc);
}

function explain(errors: ErrorObject[], value: unknown, doc: YamlDocument): Diagnostic[] {
  // A union's own error replaces the errors of its branches: "must be one of …" reads better.
  const unions = errors.filter((e) => e.keyword === 'anyOf');
  const inUnion = (e: ErrorObject) =>
    e.keyword !== 'anyOf' && unions.some((u) => e.schemaPath.startsWith(`${u.schemaPath}/`) && e.instancePath.startsWith(u.instancePath));
  const out = new Map<string, Diagnostic>();
  for (const error of errors) {
    if (inUnion(error)) continue;
    if (unions.some((u) => u !== error && error.keyword === 'anyOf' && error.schemaPath.startsWith(`${u.schemaPath}/`))) continue;
    const path = toPath(error.instancePath);
    const where = path.length === 0 ? 'the document' : `\`${dotted(path)}\``;
    let message: string;
    let at: 'value' | 'key' = 'value';
    let target = path;
    switch (error.keyword) {
      case 'required': {
        const field = String(error.params.missingProperty);
        message = `${where} is missing the required field \`${field}\``;
        break;
      }
      case 'additionalProperties': {
        const field = String(error.params.additionalProperty);
        const allowed = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
        target = [...path, field];
        at = 'key';
        message = `unknown field \`${field}\` in ${where}; allowed fields: ${allowed.join(', ')}${suggestion(field, allowed)}`;
        break;
      }
      case 'type': {
        // A value where a secret reference belongs may be the secret itself: never quoted.
        const secretRef = Object.hasOwn((error.parentSchema as { properties?: object }).properties ?? {}, 'secret');
        const given = valueAt(value, path);
        message = secretRef ? `${where} must be a secret reference \`{ secret: NAME }\`, not ${typeof given === 'string' ? 'a string (not shown: it may be the secret itself)' : describe(given)}` : `${where} must be ${article(String(error.params.type))}, not ${describe(given)}`;
        break;
      }
      case 'const':
        message = `${where} must be \`${String(error.params.allowedValue)}\``;
        break;
      case 'enum':
        message = `${where} must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`;
        break;
      case 'anyOf':
        message = `${where} must be ${unionText(error.schema as object[])}, not ${describe(valueAt(value, path))}`;
        break;
      case 'pattern': {
        const desc = (error.parentSchema as { description?: string }).description;
        message = `${where} has the invalid value ${JSON.stringify(valueAt(value, path))}${desc ? `: ${lowerFirst(desc)}` : ` (must match ${String(error.params.pattern)})`}`;
        break;
      }
      case 'minItems':
        message = `${where} must have at least ${String(error.params.limit)} item(s)`;
        break;
      case 'minLength':
        message = `${where} must not be empty`;
        break;
      case 'maxLength':
        message = `${where} must be at most ${String(error.params.limit)} characters long`;
        break;
      case 'minimum':
      case 'maximum':
        message = `${where} must be ${error.keyword === 'minimum' ? '≥' : '≤'} ${String(error.params.limit)}`;
        break;
      default:
        message = `${where} ${error.message ?? 'is invalid'}`;
    }
    const position = doc.locate(target, at);
    const key = `${position.line}:${position.column}:${message}`;
    if (!out.has(key)) out.set(key, { file: doc.file, ...position, severity: 'error', rule: 'schema', message });
  }
  return [...out.values()];
}

function toPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function dotted(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function valueAt(value: unknown, path: PathSegment[]): unknown {
  let v: unknown = value;
  for (const s of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[String(s)] : undefined;
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function article(type: string): string {
  const words: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null' };
  return type.split(',').map((t) => words[t] ?? t).join(' or ');
}

function unionText(branches: object[]): string {
  const consts = branches.map((b) => (b as { const?: unknown }).const);
  if (consts.every((c) => c !== undefined)) return `one of: ${consts.join(', ')}`;
  return branches
    .map((b) => {
      const s = b as { type?: string; properties?: Record<string, unknown> };
      if (s.properties && 'secret' in s.properties) return '`{ secret: NAME }`';
      return s.type ? article(s.type) : 'a value';
    })
    .join(' or ');
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
