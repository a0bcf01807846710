// `eventops tokens create|list`: API tokens, made by the server (admin scope). `create` prints
// the token alone on stdout, so `TOKEN=$(eventops tokens create …)` works; it is shown only once.
import type { Command } from 'commander';
import type { TokenInfo } from '../../webhooks/index.js';
import type { Io } from '../output.js';
import { connect, print, withClientOptions, type ClientOptions } from './client-options.js';
import { formatAge, formatTable } from './sources-format.js';

interface CreatedToken {
  name: string;
  scopes: string[];
  token: string;
}

/** Adds the subcommands to `tokens` (created with `program.command` so it inherits the program's settings). */
export function addTokensCommands(tokens: Command, io: Io, setExit: (code: number) => void): Command {
  withClientOptions(tokens.command('create').description('make an API token and print it (shown once: store it now)'))
    .requiredOption('--name <name>', 'unique name: lowercase letters, digits and -')
    .requiredOption('--scopes <scopes>', 'comma-separated: read, events:write, runs:write, admin; or agent:<id> for an eventops agent')
    .action(async (opts: ClientOptions & { name: string; scopes: string }) => {
      setExit(await createToken(opts, io));
    });
  withClientOptions(tokens.command('list').description('list the API tokens: names, scopes, when made and last used')).action(async (opts: ClientOptions) => {
    setExit(await listTokens(opts, io));
  });
  return tokens;
}

async function createToken(opts: ClientOptions & { name: string; scopes: string }, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const scopes = opts.scopes
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const created = (await client.post('/api/v1/tokens', { body: { name: opts.name, scopes } })) as CreatedToken;
  print(io, output, created, () => `${created.token}\n`);
  if (output === 'table') io.err(`token ${created.name} (${created.scopes.join(', ')}) created; it is shown only this once\n`);
  return 0;
}

async function listTokens(opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const { items } = (await client.get('/api/v1/tokens')) as { items: TokenInfo[] };
  print(io, output, items, () => formatTokenList(items, Date.now()));
  return 0;
}

export function formatTokenList(items: readonly TokenInfo[], nowMs: number): string {
  if (items.length === 0) return 'no tokens\n';
  const rows = items.map((t) => [t.name, t.scopes.join(','), t.createdAt, formatAge(t.lastUsedAt, nowMs)]);
  return formatTable(['NAME', 'SCOPES', 'CREATED', 'LAST USED'], rows);
}
