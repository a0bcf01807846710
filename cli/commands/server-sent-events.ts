// Reading a `text/event-stream` answer (server-sent events), as `eventops runs logs -f` receives
// a followed log. Follows the parsing rules of the HTML standard: lines end in LF, CRLF or CR;
// a blank line dispatches the event; `:` starts a comment; `data` lines are joined with LF.

export interface ServerSentEvent {
  /** `message` when the server named none. */
  event: string;
  data: string;
  /** The event's `id` field, when it had one. */
  id?: string;
}

/** The events of `body` in order; ends when the stream does (a partial last event is dropped). */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true });
    let match: RegExpExecArray | null;
    // A lone CR at the end may be the first half of a CRLF: wait for the next bytes.
    while ((match = /\r\n|\n|\r(?!$)/.exec(buffer))) {
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
        event = '';
        data = [];
        id = undefined;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id' && !value.includes('\0')) id = value;
    }
  }
}
