// The WebSocket end of `eventops agent` on the server: `GET /api/v1/agents/connect` upgraded,
// after the agent proved who it is (`Authorization: Bearer <token>`, `X-Eventops-Agent: <id>`).
// A refused agent gets a plain 401 before any WebSocket exists. The first message must be the
// agent's hello; then its messages go to the hub. The server pings every 15 s and drops a
// connection that has not answered for 45 s.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_CONNECT_PATH, AGENT_ID_HEADER, AGENT_PROTOCOL_VERSION, parseAgentMessage, type AgentHub, type AgentConnection } from '../../runners/index.js';

export interface AgentSocketDeps {
  hub: AgentHub;
  /** Whether `token` lets agent `id` connect. Must not throw for a wrong token (resolve false). */
  authenticate(id: string, token: string): Promise<boolean>;
  log(level: 'info' | 'warn', message: string, fields: Record<string, unknown>): void;
}

const PING_MS = 15_000;
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface AgentSockets {
  /** For the HTTP server's `upgrade` event: true when the request was for agents (handled). */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): void;
}

export function agentSockets(deps: AgentSocketDeps): AgentSockets {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const alive = new WeakMap<WebSocket, number>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (Date.now() - (alive.get(ws) ?? 0) > 3 * PING_MS) ws.terminate();
      else ws.ping();
    }
  }, PING_MS);
  pinger.unref();

  const refuse = (socket: Duplex, status: number, text: string) => {
    const body = JSON.stringify({ error: { code: status === 401 ? 'Unauthorized' : 'BadRequest', message: text } });
    socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };

  const accept = (ws: WebSocket, id: string, address: string) => {
    alive.set(ws, Date.now());
    ws.on('pong', () => alive.set(ws, Date.now()));
    let connection: AgentConnection | undefined;
    ws.on('message', (data, isBinary) => {
      alive.set(ws, Date.now());
      let message;
      try {
        if (isBinary) throw new Error('binary frames are not part of the protocol');
        message = parseAgentMessage(data.toString());
      } catch (error) {
        deps.log('warn', 'agent sent a message that is not part of the protocol', { agent: id, error: error instanceof Error ? error.message : String(error) });
        if (!connection) ws.close(1008, 'the first message must be a hello');
        return;
      }
      if (!connection) {
        if (message.type !== 'hello') return void ws.close(1008, 'the first message must be a hello');
        if (message.protocol !== AGENT_PROTOCOL_VERSION) return void ws.close(1008, `protocol ${message.protocol} is not spoken here (${AGENT_PROTOCOL_VERSION} is): use an agent of the server's version`);
        connection = deps.hub.connect(id, { send: (m) => ws.send(JSON.stringify(m)), close: (reason) => ws.close(1001, reason.slice(0, 120)) }, message);
        deps.log('info', 'agent connected', { agent: id, address, version: message.version });
        return;
      }
      connection.message(message);
    });
    ws.on('close', () => connection?.closed());
    ws.on('error', (error) => deps.log('warn', 'agent connection error', { agent: id, error: error.message }));
  };

  return {
    upgrade(request, socket, head) {
      const path = (request.url ?? '').split('?')[0];
      if (path !== AGENT_CONNECT_PATH) return false;
      const id = request.headers[AGENT_ID_HEADER];
      const auth = request.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
      const address = request.socket.remoteAddress ?? 'unknown';
      if (typeof id !== 'string' || !AGENT_ID.test(id)) {
        refuse(socket, 400, `the ${AGENT_ID_HEADER} header must hold the agent's id (letters, digits, ., _ and -)`);
        return true;
      }
      deps
        .authenticate(id, token)
        .catch((error: unknown) => {
          deps.log('warn', 'agent authentication failed', { agent: id, error: error instanceof Error ? error.message : String(error) });
          return false;
        })
        .then((ok) => {
          if (!ok) {
            deps.log('warn', 'agent refused: wrong or missing token', { agent: id, address });
            refuse(socket, 401, `agent ${id} is not allowed to connect with this token`);
            return;
          }
          wss.handleUpgrade(request, socket, head, (ws) => accept(ws, id, address));
        });
      return true;
    },
    close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
