// Where each `${{ }}` template of a definition was written. Stored with the definition, it
// lets run-time evaluation errors name the file and line of the expression that failed.
import { hasTemplate, type Origin } from '../expressions/index.js';
import type { Path } from '../loader/parse-yaml.js';
import type { Definition } from './definition.js';

/** JSON Pointer (`/spec/tasks/0/env/SHA`) → position, for every string holding `${{` (and every `if:`). */
export function templateOrigins(def: Definition): Record<string, { line: number; column: number }> {
  const out: Record<string, { line: number; column: number }> = {};
  const visit = (value: unknown, path: Path) => {
    if (typeof value === 'string') {
      if (hasTemplate(value) || path[path.length - 1] === 'if' || path[path.length - 1] === 'expr') out[toPointer(path)] = def.locate(path);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(v, [...path, i]));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
    }
  };
  visit(def.value, []);
  return out;
}

/** An `originOf` for `renderValue`: paths are relative to `base` inside the definition. */
export function originResolver(file: string, origins: Record<string, { line: number; column: number }>, base: Path = []): (path: Path) => Origin | undefined {
  return (path) => {
    const position = origins[toPointer([...base, ...path])];
    return position ? { file, ...position } : undefined;
  };
}

export function toPointer(path: Path): string {
  return path.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
