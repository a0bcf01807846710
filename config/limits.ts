// The limits that keep hostile input and faults from stalling, crashing or filling eventops:
// one place for their names, defaults and units. `limits:` in eventops.yaml overrides any of
// them (docs/configuration.md, "limits"); components take a `Limits` (or the part they use) and
// fall back to DEFAULT_LIMITS when built without one (tests, the CLI's offline commands).

export interface Limits {
  git: {
    /** A whole fetch of a git source (every round trip and the pack's resolution), in ms. */
    fetchTimeoutMs: number;
    /** Heap a fetch may use (it runs in a worker thread with this old-space limit), in bytes. */
    fetchMemoryBytes: number;
  };
  jobs: {
    /** A job that was running when the process died this many times is parked (failed with its error), not retried. */
    maxCrashes: number;
  };
  yaml: {
    /** Alias nodes (`*name`) a YAML document may use, counted as expansion copies them (an alias of a node holding k aliases is 1 + k); more is an error. */
    maxAliases: number;
  };
  http: {
    /** Bytes of one request body. */
    maxBodyBytes: number;
    /** Bytes of request bodies being read at once, across all connections; beyond it, 503. */
    bodyBytesInFlight: number;
    /** Open HTTP connections; beyond it new ones are closed at once. */
    maxConnections: number;
    /** How long a request body may take to arrive, in ms; beyond it, 408. */
    bodyTimeoutMs: number;
    /** Nesting depth of a JSON or YAML body (objects and arrays); deeper is a 400. */
    maxDepth: number;
  };
  matching: {
    /** Cost budget of one expression evaluation in a trigger filter (CEL); over it, the filter is `filtered`. */
    expressionCost: number;
    /** Time matching one event may take, in ms, across all triggers; beyond it the remaining triggers are `filtered` with the reason. */
    eventTimeMs: number;
  };
  logs: {
    /** Bytes of log stored per task; beyond it the first and last part are kept with a "truncated N bytes" line. */
    taskLogBytes: number;
    /** Bytes of log one page of `GET /api/v1/runs/:id/logs` returns at most. */
    pageBytes: number;
    /** Live log followers (`?follow=1`) at once, in total. */
    maxFollowers: number;
    /** Live log followers at once with one token. */
    maxFollowersPerToken: number;
  };
  docker: {
    /** Deadline of one Docker API call (not the task's own run time), in ms. */
    apiTimeoutMs: number;
  };
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Limits = {
  git: { fetchTimeoutMs: 5 * 60_000, fetchMemoryBytes: 512 * MiB },
  jobs: { maxCrashes: 2 },
  yaml: { maxAliases: 100 },
  http: { maxBodyBytes: 25 * MiB, bodyBytesInFlight: 100 * MiB, maxConnections: 1000, bodyTimeoutMs: 30_000, maxDepth: 100 },
  matching: { expressionCost: 100_000, eventTimeMs: 2_000 },
  logs: { taskLogBytes: 10 * MiB, pageBytes: 1 * MiB, maxFollowers: 200, maxFollowersPerToken: 20 },
  docker: { apiTimeoutMs: 30_000 },
};

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, kib: 1024, mib: MiB, gib: 1024 * MiB };

/** `10MiB`, `512MB`, `64KiB`, `1000` (bytes) → bytes; undefined when not a size. */
export function parseByteSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = UNITS[(m[2] ?? '').toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}
