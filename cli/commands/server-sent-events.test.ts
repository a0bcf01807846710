// The event-stream reader on what a network delivers: events cut at any byte, CRLF split across
// reads, multi-line data, comments, and a last event the stream ended before finishing.
import { describe, expect, it } from 'vitest';
import { readServerSentEvents, type ServerSentEvent } from './server-sent-events.js';

function streamOf(parts: readonly (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(typeof part === 'string' ? encoder.encode(part) : part);
      controller.close();
    },
  });
}

async function all(parts: readonly (string | Uint8Array)[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(streamOf(parts))) events.push(event);
  return events;
}

const wire = ': keep-alive\n\nevent: line\ndata: {"text":"héllo"}\nid: 7\n\nevent: end\r\ndata: a\r\ndata:b\r\n\r\ndata: plain\n\nevent: line\ndata: cut off';

describe('readServerSentEvents', () => {
  it('reads events, ids and multi-line data, skips comments and drops an unfinished last event', async () => {
    expect(await all([wire])).toEqual([
      { event: 'line', data: '{"text":"héllo"}', id: '7' },
      { event: 'end', data: 'a\nb' },
      { event: 'message', data: 'plain' },
    ]);
  });

  it('reads the same however the bytes are cut, even inside a character or a CRLF', async () => {
    const bytes = new TextEncoder().encode(wire);
    const whole = await all([bytes]);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await all([bytes.slice(0, cut), bytes.slice(cut)]), `cut at ${cut}`).toEqual(whole);
    }
    expect(await all([...bytes].map((b) => new Uint8Array([b])))).toEqual(whole);
  });
});
