// `eventops status`: the running server at a glance — runs and events by status, sources by
// their Ready condition (`GET /api/v1/counts`); exit 1 when a source is not Ready, so a script
// or a check can use it.
import type { Command } from 'commander';
import type { CountsAnswer } from '../../webhooks/index.js';
import type { Io } from '../output.js';
import { connect, print, withClientOptions, type ClientOptions } from './client-options.js';
import { formatTable } from './sources-format.js';

export function addStatusCommand(program: Command, io: Io, setExit: (code: number) => void): void {
  withClientOptions(program.command('status').description('runs and events by status, sources by readiness; exit 1 unless every source is Ready')).action(async (opts: ClientOptions) => {
    const { client, output } = await connect(opts, io);
    const counts = (await client.get('/api/v1/counts')) as CountsAnswer;
    print(io, output, counts, () => formatCounts(counts));
    setExit((counts.sources.False ?? 0) + (counts.sources.Unknown ?? 0) > 0 ? 1 : 0);
  });
}

/** One row per kind: its statuses with their counts, zeros left out. */
export function formatCounts(counts: CountsAnswer): string {
  const row = (what: string, byStatus: Record<string, number>) => {
    const shown = Object.entries(byStatus).filter(([, n]) => n > 0);
    return [what, String(shown.reduce((sum, [, n]) => sum + n, 0)), shown.map(([status, n]) => `${status} ${n}`).join(', ') || '-'];
  };
  const ready = Object.fromEntries(Object.entries(counts.sources).map(([status, n]) => [status === 'True' ? 'ready' : status === 'False' ? 'not ready' : 'unknown', n]));
  return formatTable(['KIND', 'TOTAL', 'BY STATUS'], [row('runs', counts.runs), row('events', counts.events), row('sources', ready)]);
}
