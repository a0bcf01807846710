// The token itself: `eo_` and 32 random bytes in base64url (43 characters), and the hex sha256
// that is stored instead of it. The prefix lets secret scanners and people recognise one.
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'eo_';

/** A new random token; shown to its owner once, never stored. */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Hex sha256 of the token: what the database keeps and looks tokens up by. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
