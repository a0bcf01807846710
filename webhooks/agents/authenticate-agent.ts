// Who may connect as agent <id>: the holder of an API token with the scope `agent:<id>` (made by
// `eventops tokens create`; only its sha256 is stored), or of the value of the token secret that
// an active Actuator naming that agent references (`agent: { id, token: { secret: NAME } }`,
// resolved as the actuator's own source may use secrets). Values are compared as sha256 digests
// in constant time; nothing about the token is logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import { definitions, type Db } from '../../schemas/database/index.js';
import type { Actuator } from '../../schemas/index.js';
import { verifyToken } from '../auth/index.js';

export interface AgentAuthDeps {
  db: Db;
  /** A secret's value for a definition of `source`; throws when the source may not use it or it is unset. */
  secret(source: string, name: string): string;
}

export function agentAuthenticator(deps: AgentAuthDeps): (id: string, token: string) => Promise<boolean> {
  return async (id, token) => {
    if (token === '') return false;
    const verified = await verifyToken(deps.db, token);
    if (verified) return verified.scopes.includes(`agent:${id}`);
    const actuators = await deps.db
      .select({ source: definitions.source, spec: definitions.spec })
      .from(definitions)
      .where(and(eq(definitions.kind, 'Actuator'), isNull(definitions.removedRevisionId)));
    const presented = digest(token);
    for (const row of actuators) {
      const agent = (row.spec as Actuator['spec']).agent;
      if (agent?.id !== id || !agent.token) continue;
      let expected: string;
      try {
        expected = deps.secret(row.source, agent.token.secret);
      } catch {
        continue;
      }
      if (timingSafeEqual(presented, digest(expected))) return true;
    }
    return false;
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
