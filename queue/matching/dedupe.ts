// A trigger's `dedupe` key for one event: its template rendered against `event` and
// `trigger`. The key is text; the caller remembers it per source and trigger for
// `dedupeWindow` and starts nothing for a second event with the same key.
import { renderTemplate, stringify } from '../../schemas/index.js';

export type DedupeResult = { ok: true; key: string } | { ok: false; reason: string };

/**
 * Renders `template`; an empty key is refused, since it would merge every event into one.
 * `rendered` as in resolveInputs: values of event-only templates already rendered, by text.
 */
export function dedupeKey(template: string, context: Record<string, unknown>, rendered?: Map<string, unknown>): DedupeResult {
  let value: unknown;
  try {
    if (rendered?.has(template)) value = rendered.get(template);
    else {
      value = renderTemplate(template, 'trigger', context);
      rendered?.set(template, value);
    }
  } catch (error) {
    return { ok: false, reason: `dedupe: ${error instanceof Error ? error.message : String(error)}` };
  }
  const key = stringify(value);
  if (key === '') return { ok: false, reason: `dedupe: \`${template}\` gave an empty key` };
  return { ok: true, key };
}
