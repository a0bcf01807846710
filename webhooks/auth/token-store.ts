// API tokens in the database (`api_tokens`): only the sha256 of a token is stored, so a leaked
// database holds no usable token. Tokens are looked up by that hash.
import { asc, eq } from 'drizzle-orm';
import { apiTokens } from '../../schemas/database/index.js';
import type { Db } from '../../schemas/database/index.js';
import type { NewToken } from './new-token.js';
import { generateToken, hashToken } from './token.js';

/** What a valid token is allowed: its name (for messages and logs) and scopes. */
export interface VerifiedToken {
  name: string;
  scopes: string[];
}

/** A token as `GET /api/v1/tokens` lists it: never the token or its hash. */
export interface TokenInfo {
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

export class TokenNameTakenError extends Error {
  constructor(readonly tokenName: string) {
    super(`a token named ${JSON.stringify(tokenName)} exists already: pick another name`);
    this.name = 'TokenNameTakenError';
  }
}

/** `lastUsedAt` is written at most this often per token, not on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Stores a new token and returns it: the only time it is ever seen. Throws TokenNameTakenError on a duplicate name. */
export async function createToken(db: Db, input: NewToken): Promise<string> {
  const token = generateToken();
  if (!(await insertToken(db, input, token))) throw new TokenNameTakenError(input.name);
  return token;
}

/** Stores the hash of `token`; false (and nothing written) when the name is taken. */
export async function insertToken(db: Db, input: NewToken, token: string): Promise<boolean> {
  const inserted = await db
    .insert(apiTokens)
    .values({ name: input.name, hash: hashToken(token), scopes: input.scopes })
    .onConflictDoNothing({ target: apiTokens.name })
    .returning({ id: apiTokens.id });
  return inserted.length > 0;
}

/** Stores the hash of `token` under `input.name`, replacing the token of that name if there is one. */
export async function upsertToken(db: Db, input: NewToken, token: string): Promise<void> {
  await db
    .insert(apiTokens)
    .values({ name: input.name, hash: hashToken(token), scopes: input.scopes })
    .onConflictDoUpdate({ target: apiTokens.name, set: { hash: hashToken(token), scopes: input.scopes } });
}

/** The token's name and scopes, or undefined when no token has this value. Notes when it was used. */
export async function verifyToken(db: Db, token: string, nowMs = Date.now()): Promise<VerifiedToken | undefined> {
  const [row] = await db
    .select({ id: apiTokens.id, name: apiTokens.name, scopes: apiTokens.scopes, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .where(eq(apiTokens.hash, hashToken(token)));
  if (!row) return undefined;
  if (!row.lastUsedAt || nowMs - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await db.update(apiTokens).set({ lastUsedAt: new Date(nowMs) }).where(eq(apiTokens.id, row.id));
  }
  return { name: row.name, scopes: row.scopes };
}

/** Every token by name, without secrets. */
export async function listTokens(db: Db): Promise<TokenInfo[]> {
  const rows = await db
    .select({ name: apiTokens.name, scopes: apiTokens.scopes, createdAt: apiTokens.createdAt, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .orderBy(asc(apiTokens.name));
  return rows.map((r) => ({ name: r.name, scopes: r.scopes, createdAt: r.createdAt.toISOString(), lastUsedAt: r.lastUsedAt?.toISOString() ?? null }));
}

/** True when a token of this name exists. */
export async function tokenExists(db: Db, name: string): Promise<boolean> {
  const [row] = await db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.name, name));
  return row !== undefined;
}
