// `/api/v1/agents` (read-only): the agents that have connected, whether each is connected now
// and to which process. (`/api/v1/agents/connect`, where agents dial in, is the WebSocket upgrade
// handled before these routes: see webhooks/agents.)
import { Hono } from 'hono';
import type { Db } from '../../schemas/database/index.js';
import { agentStates, type AgentState } from '../../queue/index.js';
import { notFound } from './api-error.js';

/** Mounted under `/api/v1`. */
export function agentsRoutes(deps: { db: Db }): Hono {
  const routes = new Hono();
  routes.get('/agents', async (c) => c.json({ items: (await agentStates(deps.db)).map(agentJson) }));
  routes.get('/agents/:id', async (c) => {
    const id = c.req.param('id');
    const [state] = await agentStates(deps.db, [id]);
    if (!state || state.worker === null) throw notFound(`no agent ${JSON.stringify(id)} has ever connected`);
    return c.json(agentJson(state));
  });
  return routes;
}

function agentJson(s: AgentState) {
  return {
    id: s.id,
    connected: s.connected,
    worker: s.worker,
    version: s.version,
    runs: s.runs,
    connectedAt: s.connectedAt?.toISOString() ?? null,
    lastSeenAt: s.lastSeenAt?.toISOString() ?? null,
    disconnectedAt: s.disconnectedAt?.toISOString() ?? null,
  };
}
