// `eventops sources list|get|reconcile`: what the running server knows about each source, and
// asking it to reconcile one now. Talks to the server's HTTP API (see docs/api.md).
import type { Command } from 'commander';
import { Option } from 'commander';
import type { ReconcileResult } from '../../reconciler/index.js';
import type { SourceDetail, SourceSummary } from '../../webhooks/index.js';
import { createApiClient, resolveServer } from '../api-client.js';
import { OUTPUT_FORMATS, parseOutputFormat, serialize, type Io, type OutputFormat } from '../output.js';
import { formatReconcileResult, formatSourceDetail, formatSourceList } from './sources-format.js';

interface ClientOptions {
  server?: string;
  output: string;
}

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

function withClientOptions(command: Command): Command {
  return command
    .option('--server <url>', 'eventops server (default: EVENTOPS_SERVER, else http://127.0.0.1:8080)')
    .addOption(new Option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(', ')}`).default('table'));
}

function setUp(opts: ClientOptions, io: Io) {
  // Read here, not at import time, so a test or wrapper can inject the environment.
  const client = createApiClient(resolveServer(opts.server, io.env ?? process.env));
  return { client, output: parseOutputFormat(opts.output) };
}

function print(io: Io, output: OutputFormat, value: unknown, table: () => string): void {
  io.out(output === 'table' ? table() : serialize(value, output));
}

async function listSources(opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = setUp(opts, io);
  const { items } = (await client.get('/api/v1/sources')) as { items: SourceSummary[] };
  print(io, output, items, () => formatSourceList(items, Date.now()));
  return 0;
}

async function getSource(name: string, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = setUp(opts, io);
  const detail = (await client.get(`/api/v1/sources/${encodeURIComponent(name)}`)) as SourceDetail;
  print(io, output, detail, () => formatSourceDetail(detail, Date.now()));
  return detail.ready === 'True' ? 0 : 1;
}

async function reconcileSource(name: string, wait: boolean, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = setUp(opts, io);
  const path = `/api/v1/sources/${encodeURIComponent(name)}/reconcile`;
  if (!wait) {
    const accepted = await client.post(path);
    print(io, output, accepted, () => `reconcile of ${name} requested\n`);
    return 0;
  }
  // A reconcile may clone a large repository: wait as long as the server takes.
  const result = (await client.post(`${path}?wait=true`, { timeoutMs: 0 })) as ReconcileResult;
  print(io, output, result, () => formatReconcileResult(result));
  return result.outcome === 'applied' || result.outcome === 'unchanged' ? 0 : 1;
}
