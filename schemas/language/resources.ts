// Container limits as written in definitions, the way Kubernetes writes them: CPU in cores
// (`0.5`, `2`) or millicores (`500m`); memory in bytes with a binary (`Ki`, `Mi`, `Gi`, `Ti`) or
// decimal (`k`, `M`, `G`, `T`) suffix, or none (`268435456`).

const MEMORY_UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Cores in `value` (`500m` → 0.5), or undefined when it is not a positive CPU quantity. */
export function parseCpu(value: string | number): number | undefined {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(text);
  if (!match) return undefined;
  const cores = Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
  return cores > 0 && Number.isFinite(cores) ? cores : undefined;
}

/** Bytes in `value` (`512Mi` → 536870912), or undefined when it is not a positive memory quantity. */
export function parseMemory(value: string | number): number | undefined {
  const text = String(value).trim();
  const match = /^(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(text);
  if (!match) return undefined;
  const bytes = Math.round(Number(match[1]) * (MEMORY_UNITS[match[2] ?? ''] as number));
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}
