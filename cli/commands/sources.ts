// `eventops sources list|get|reconcile`: what the running server knows about each source, and
// asking it to reconcile one now. Talks to the server's HTTP API (see docs/api.md).
import type { Command } from 'commander';
import type { ReconcileResult } from '../../reconciler/index.js';
import type { SourceDetail, SourceSummary } from '../../webhooks/index.js';
import type { Io } from '../output.js';
import { connect, print, withClientOptions, type ClientOptions } from './client-options.js';
import { formatReconcileResult, formatSourceDetail, formatSourceList } from './sources-format.js';

/** How often `reconcile --wait` says it is still waiting. */
const PROGRESS_EVERY_MS = 2_000;

/** Adds the subcommands to `sources` (created with `program.command` so it inherits the program's settings). */
export function addSourcesCommands(sources: Command, io: Io, setExit: (code: number) => void): Command {
  withClientOptions(sources.command('list').description('list the sources with their readiness and active revision')).action(async (opts: ClientOptions) => {
    setExit(await listSources(opts, io));
  });
  withClientOptions(sources.command('get').description("show one source's status, errors and history; exit 1 unless it is Ready"))
    .argument('<name>', 'source name')
    .action(async (name: string, opts: ClientOptions) => {
      setExit(await getSource(name, opts, io));
    });
  withClientOptions(sources.command('reconcile').description('ask the server to reconcile a source now'))
    .argument('<name>', 'source name')
    .option('--wait', 'wait for the outcome; exit 1 unless it is applied or unchanged')
    .action(async (name: string, opts: ClientOptions & { wait?: boolean }) => {
      setExit(await reconcileSource(name, opts.wait === true, opts, io));
    });
  return sources;
}

async function listSources(opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const { items } = (await client.get('/api/v1/sources')) as { items: SourceSummary[] };
  print(io, output, items, () => formatSourceList(items, Date.now()));
  return 0;
}

async function getSource(name: string, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const detail = (await client.get(`/api/v1/sources/${encodeURIComponent(name)}`)) as SourceDetail;
  print(io, output, detail, () => formatSourceDetail(detail, Date.now()));
  return detail.ready === 'True' ? 0 : 1;
}

async function reconcileSource(name: string, wait: boolean, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const path = `/api/v1/sources/${encodeURIComponent(name)}/reconcile`;
  if (!wait) {
    const accepted = await client.post(path);
    print(io, output, accepted, () => `reconcile of ${name} requested\n`);
    return 0;
  }
  // A reconcile may clone a large repository: wait as long as the server takes, saying so on
  // stderr (stdout keeps only the result, for -o json|yaml).
  const started = Date.now();
  io.err(`reconciling ${name}…\n`);
  const ticker = setInterval(() => io.err(`still reconciling ${name} (${Math.round((Date.now() - started) / 1000)} s)…\n`), PROGRESS_EVERY_MS);
  let result: ReconcileResult;
  try {
    result = (await client.post(`${path}?wait=true`, { timeoutMs: 0 })) as ReconcileResult;
  } finally {
    clearInterval(ticker);
  }
  print(io, output, result, () => formatReconcileResult(result));
  return result.outcome === 'applied' || result.outcome === 'unchanged' ? 0 : 1;
}
