// Names are unique per kind within a repository (each source is a namespace).
import type { Rule } from '../context.js';
import type { Definition } from '../definition.js';

export const uniqueNames: Rule = (ctx) => {
  const seen = new Map<string, Definition>();
  for (const def of ctx.all) {
    if (!def.name) continue;
    const key = `${def.kind}/${def.name}`;
    const first = seen.get(key);
    if (!first) {
      seen.set(key, def);
      continue;
    }
    ctx.report(
      def,
      ['metadata', 'name'],
      'unique-name',
      `${def.kind} \`${def.name}\` is already defined at ${first.file}:${first.line}; names must be unique per kind within a repository — rename one`,
    );
  }
};
