// Where each `${{ }}` template of a definition was written. Stored with the definition, it
// lets run-time evaluation errors name the file and line of the expression that failed.
import type { Origin } from '../expressions/index.js';
import type { Path } from '../loader/parse-yaml.js';
import type { Definition } from './definition.js';
import { templateStrings } from './template-strings.js';

/** JSON Pointer (`/spec/tasks/0/env/SHA`) → position, for every string holding `${{` (and every `if:`). */
export function templateOrigins(def: Definition): Record<string, { line: number; column: number }> {
  const out: Record<string, { line: number; column: number }> = {};
  for (const [path] of templateStrings(def.value, [])) out[toPointer(path)] = def.locate(path);
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
