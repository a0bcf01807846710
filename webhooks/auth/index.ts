// API tokens: making them, storing their hashes, checking them on each request (requireToken),
// and the admin token a server writes on its first start.
export { SCOPES, hasScope, isScope, type AgentScope, type Scope } from './scopes.js';
export { generateToken, hashToken, TOKEN_PREFIX } from './token.js';
export { parseNewToken, NewTokenError, TOKEN_NAME_PATTERN, TOKEN_NAME_MAX, type NewToken } from './new-token.js';
export { createToken, verifyToken, listTokens, TokenNameTakenError, type TokenInfo, type VerifiedToken } from './token-store.js';
export { ensureAdminToken, setAdminToken, ADMIN_TOKEN_NAME, ADMIN_TOKEN_FILE, type EnsureAdminTokenResult } from './admin-token.js';
export { requireToken, type RequireTokenOptions } from './require-token.js';
