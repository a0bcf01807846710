// What every command that talks to the server shares: `--server`, `--token`, `-o/--output`, and
// building the API client from them and the injected environment.
import type { Command } from 'commander';
import { Option } from 'commander';
import { createApiClient, resolveServer, type ApiClient } from '../api-client.js';
import { resolveApiToken } from '../api-token.js';
import { OUTPUT_FORMATS, parseOutputFormat, serialize, type Io, type OutputFormat } from '../output.js';

export interface ClientOptions {
  server?: string;
  token?: string;
  output: string;
}

export function withClientOptions(command: Command): Command {
  return command
    .option('--server <url>', 'eventops server (default: EVENTOPS_SERVER, else http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (default: EVENTOPS_TOKEN, else .eventops/admin-token in this folder)')
    .addOption(new Option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(', ')}`).default('table'));
}

/** The client and output format of a command; reads the environment and token file now, not at import time. */
export async function connect(opts: ClientOptions, io: Io): Promise<{ client: ApiClient; output: OutputFormat }> {
  const env = io.env ?? process.env;
  const server = resolveServer(opts.server, env);
  const output = parseOutputFormat(opts.output);
  return { client: createApiClient(server, await resolveApiToken(opts.token, env, io.cwd)), output };
}

export function print(io: Io, output: OutputFormat, value: unknown, table: () => string): void {
  io.out(output === 'table' ? table() : serialize(value, output));
}
