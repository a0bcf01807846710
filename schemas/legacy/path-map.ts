// Remembers which path of the original document each part of a converted value came from.
import type { Path } from '../loader/parse-yaml.js';

export class PathMap {
  private readonly entries = new Map<string, { source: Path; deep: boolean }>();

  /** `target` (in the v1 value) came from `source` (in the original); `deep`: paths below match one to one. */
  set(target: Path, source: Path, deep = true): void {
    this.entries.set(key(target), { source, deep });
  }

  lookup(target: Path): Path {
    for (let n = target.length; n >= 0; n--) {
      const hit = this.entries.get(key(target.slice(0, n)));
      if (hit) return hit.deep ? [...hit.source, ...target.slice(n)] : hit.source;
    }
    return [];
  }
}

function key(path: Path): string {
  return path.join('\u0000');
}
