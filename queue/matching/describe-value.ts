// How values read in explanations: as JSON, so `"1"` (text) and `1` (a number) look different,
// and long text cut short so one huge field does not swamp the reason.
const LIMIT = 80;

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value) ?? String(value);
  return json.length > LIMIT ? `${json.slice(0, LIMIT - 1)}…` : json;
}

/** `["a", "b"]` */
export function describeValues(values: readonly unknown[]): string {
  return `[${values.map(describeValue).join(', ')}]`;
}

/** `text`, `a number`, `a list`, … for messages about types. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'text';
  return `a ${typeof value}`;
}
