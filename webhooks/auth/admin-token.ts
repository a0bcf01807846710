// The token that makes one machine work with no set-up: on its first start a server creates a
// token named `admin` and writes it to `<dataDir>/admin-token` (mode 0600), where the CLI finds
// it. The file is written before the token is stored, so a failed write leaves no token nobody
// knows; a server that finds the token already stored leaves the file alone. A deployment of many
// processes gives the token instead (`server.adminToken`, a secret): every process stores its
// hash under `admin` and none writes a file.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../../schemas/database/index.js';
import { generateToken } from './token.js';
import { insertToken, tokenExists, upsertToken } from './token-store.js';

export const ADMIN_TOKEN_NAME = 'admin';
export const ADMIN_TOKEN_FILE = 'admin-token';

export interface EnsureAdminTokenResult {
  /** True when this call created the token and wrote the file. */
  created: boolean;
  /** `<dataDir>/admin-token`, whether or not this call wrote it. */
  file: string;
}

/**
 * Creates the `admin` token (scope `admin`) and writes it to `<dataDir>/admin-token` unless a
 * token of that name exists. Safe when several servers start at once: one of them creates it.
 */
export async function ensureAdminToken(db: Db, dataDir: string): Promise<EnsureAdminTokenResult> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (await tokenExists(db, ADMIN_TOKEN_NAME)) return { created: false, file };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = generateToken();
  // A new file of its own ('wx'), so the mode applies and a concurrent start cannot interleave.
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (!(await insertToken(db, { name: ADMIN_TOKEN_NAME, scopes: ['admin'] }, token))) {
      await rm(temp, { force: true });
      return { created: false, file };
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { created: true, file };
}

/** The smallest admin token `server.adminToken` may give: shorter ones are guessable. */
export const MIN_GIVEN_TOKEN_LENGTH = 24;

/**
 * Makes `token` (from `server.adminToken`) the `admin` token: its hash is stored under that name,
 * replacing an earlier one (so changing the secret and restarting rotates it). No file is written.
 */
export async function setAdminToken(db: Db, token: string, secretName: string): Promise<void> {
  const value = token.trim();
  if (value.length < MIN_GIVEN_TOKEN_LENGTH || /\s/.test(value)) {
    throw new Error(`server.adminToken: secret ${secretName} must hold a token of at least ${MIN_GIVEN_TOKEN_LENGTH} characters without spaces (for example \`openssl rand -base64 32\`)`);
  }
  await upsertToken(db, { name: ADMIN_TOKEN_NAME, scopes: ['admin'] }, value);
}
