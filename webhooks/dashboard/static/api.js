// The dashboard's reads of the /api/v1 routes, with the browser's token: the one typed in the
// login box, kept in sessionStorage (so it lives as long as the tab and is never sent anywhere
// but this server), or none at all on a server with `server.anonymousRead: true`. A followed log
// is read with fetch and parsed here, because EventSource cannot send an Authorization header.

const KEY = 'eventops.token';

/** The API said 401: the page shows the login box. */
export class Unauthorized extends Error {}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function setToken(value) {
  sessionStorage.setItem(KEY, value.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

/** GET a JSON route; throws Unauthorized on 401, else an Error with the API's message. */
export async function get(path, signal) {
  const res = await fetch(path, { headers: headers({ accept: 'application/json' }), signal });
  if (res.status === 401) throw new Unauthorized((await res.json().catch(() => ({})))?.error?.message ?? 'unauthorized');
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/**
 * Follows a server-sent-events route: calls onEvent(type, data, id) for each event until the
 * server sends `end`, or `signal` aborts. A dropped connection is taken up again after a second
 * where it stopped (Last-Event-ID), as EventSource would.
 */
export async function follow(path, { signal, onEvent, onState }) {
  let lastId;
  for (;;) {
    let ended = false;
    try {
      const res = await fetch(path, { headers: headers({ accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }), signal });
      if (res.status === 401) throw new Unauthorized('unauthorized');
      if (!res.ok || !res.body) throw new Error(`${res.status} ${res.statusText}`);
      onState?.('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = parseBlock(block);
          if (!event) continue;
          if (event.id) lastId = event.id;
          if (event.type === 'end') ended = true;
          onEvent(event.type, event.data, event.id);
        }
      }
    } catch (error) {
      if (signal.aborted || error instanceof Unauthorized) throw error;
      onState?.(`reconnecting (${error.message})`);
    }
    if (ended || signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** One SSE block: `event:`, `data:` (joined by newlines), `id:`; comments (`: keep-alive`) give nothing. */
function parseBlock(block) {
  let type = 'message';
  let id;
  const data = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0 && type === 'message') return undefined;
  let parsed;
  try {
    parsed = JSON.parse(data.join('\n'));
  } catch {
    parsed = data.join('\n');
  }
  return { type, data: parsed, id };
}
