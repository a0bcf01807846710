// Which API token the CLI sends: `--token`, else EVENTOPS_TOKEN, else the admin token a server
// wrote on its first start to `<dataDir>/admin-token`, dataDir being EVENTOPS_DATA_DIR or
// `.eventops` in the working folder. So on the server's machine, in the server's folder, the
// commands work with no set-up.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin-token';

/** A token and where it came from (`--token`, `EVENTOPS_TOKEN` or the file's path), for messages. */
export interface ApiToken {
  value: string;
  from: string;
}

/** `<EVENTOPS_DATA_DIR or .eventops>/admin-token`, relative paths taken from `cwd`. */
export function adminTokenFile(env: Record<string, string | undefined>, cwd: string): string {
  return join(resolve(cwd, env.EVENTOPS_DATA_DIR || '.eventops'), ADMIN_TOKEN_FILE);
}

/** The outcome of looking for a token: the token (if any) and the admin-token file looked at. */
export interface TokenLookup {
  token: ApiToken | undefined;
  file: string;
}

/** The token to send; none when none is given and the admin-token file does not exist. */
export async function resolveApiToken(option: string | undefined, env: Record<string, string | undefined>, cwd: string): Promise<TokenLookup> {
  const file = adminTokenFile(env, cwd);
  if (option) return { token: { value: option, from: '--token' }, file };
  if (env.EVENTOPS_TOKEN) return { token: { value: env.EVENTOPS_TOKEN, from: 'EVENTOPS_TOKEN' }, file };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return { token: undefined, file };
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read the admin token in ${file}: ${reason} (set EVENTOPS_TOKEN or --token instead)`, { cause: error });
  }
  const value = text.trim();
  return { token: value ? { value, from: file } : undefined, file };
}
