// `eventops event send -f FILE` sends an event to the server (`POST /api/v1/events`, scope
// `events:write`); `eventops events list|get ID` show events and, per trigger, whether it
// matched or which filter failed and why, with the runs it started.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { firstLineOf, parseYamlValue } from '../../schemas/index.js';
import { UsageError, type Io } from '../output.js';
import { connect, print, withClientOptions, type ClientOptions } from './client-options.js';
import { formatTable } from './sources-format.js';

interface EventDetail {
  id: string;
  source: string;
  type: string;
  action: string | null;
  subject: string | null;
  deliveryId: string | null;
  status: string;
  receivedAt: string;
  matchedAt: string | null;
  verdicts: { source: string; trigger: string; verdict: string; reason: string; runs?: string[] }[];
  runs: { id: string; trigger: string; pipeline: string; status: string; inputs: unknown }[];
}

export function addEventCommands(event: Command, io: Io, setExit: (code: number) => void): void {
  withClientOptions(event.command('send').description('send an event (a v1 Event, CloudEvents JSON or an original eventops event) to the server'))
    .requiredOption('-f, --file <file>', 'the event, YAML or JSON')
    .action(async (opts: ClientOptions & { file: string }) => setExit(await sendEvent(opts, io)));
}

export function addEventsCommands(events: Command, io: Io, setExit: (code: number) => void): void {
  withClientOptions(events.command('list').description('the newest events and what became of them'))
    .option('--status <status>', 'received, matched, unmatched or failed')
    .option('--source <source>', 'github, webhook/<name>, api, nats or schedule')
    .action(async (opts: ClientOptions & { status?: string; source?: string }) => setExit(await listEvents(opts, io)));
  withClientOptions(events.command('get').description('one event: per trigger, matched or why not, and the runs it started'))
    .argument('<id>', 'the event id (what `event send` printed)')
    .action(async (id: string, opts: ClientOptions) => setExit(await getEvent(id, opts, io)));
}

async function sendEvent(opts: ClientOptions & { file: string }, io: Io): Promise<number> {
  const path = resolve(io.cwd, opts.file);
  const text = await readFile(path, 'utf8').catch(() => {
    throw new UsageError(`${opts.file}: no such file`);
  });
  let doc: unknown;
  try {
    // Aliases are counted first: an alias bomb would otherwise be expanded into the request body.
    doc = parseYamlValue(text);
  } catch (error) {
    throw new UsageError(`${opts.file}: not valid YAML or JSON: ${firstLineOf((error as Error).message)}`);
  }
  const { client, output } = await connect(opts, io);
  const accepted = (await client.post('/api/v1/events', { body: doc })) as { eventId: string; duplicate?: boolean };
  print(io, output, accepted, () => `event ${accepted.eventId} ${accepted.duplicate ? 'was already accepted (same id)' : 'accepted'}; see it with: eventops events get ${accepted.eventId}\n`);
  return 0;
}

async function listEvents(opts: ClientOptions & { status?: string; source?: string }, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const query = new URLSearchParams();
  if (opts.status) query.set('status', opts.status);
  if (opts.source) query.set('source', opts.source);
  const { items } = (await client.get(`/api/v1/events${query.size > 0 ? `?${query}` : ''}`)) as { items: EventDetail[] };
  print(io, output, items, () =>
    items.length === 0 ? 'no events\n' : formatTable(['ID', 'SOURCE', 'TYPE', 'STATUS', 'RECEIVED'], items.map((e) => [e.id, e.source, e.action ? `${e.type}.${e.action}` : e.type, e.status, e.receivedAt])),
  );
  return 0;
}

async function getEvent(id: string, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const event = (await client.get(`/api/v1/events/${encodeURIComponent(id)}`)) as EventDetail;
  print(io, output, event, () => formatEvent(event));
  return 0;
}

export function formatEvent(e: EventDetail): string {
  const lines = [
    `Event:     ${e.id}`,
    `Source:    ${e.source}`,
    `Type:      ${e.action ? `${e.type} (action ${e.action})` : e.type}`,
    ...(e.subject ? [`Subject:   ${e.subject}`] : []),
    ...(e.deliveryId ? [`Delivery:  ${e.deliveryId}`] : []),
    `Received:  ${e.receivedAt}`,
    `Status:    ${e.status}${e.matchedAt ? ` at ${e.matchedAt}` : ''}`,
    '',
  ];
  if (e.status === 'received') lines.push('Not matched yet: the events queue has not taken it (is a worker running?).');
  else if (e.verdicts.length === 0) lines.push('No trigger listens to this source and type.');
  else {
    lines.push('Triggers:', formatTable(['SOURCE', 'TRIGGER', 'VERDICT', 'WHY'], e.verdicts.map((v) => [v.source, v.trigger, v.verdict, v.reason])).trimEnd());
    lines.push('(triggers not listed do not listen to this event: another source, type, subject or command)');
  }
  if (e.runs.length > 0) lines.push('', 'Runs:', formatTable(['RUN', 'TRIGGER', 'PIPELINE', 'STATUS', 'INPUTS'], e.runs.map((r) => [r.id, r.trigger, r.pipeline, r.status, JSON.stringify(r.inputs)])).trimEnd());
  return `${lines.join('\n')}\n`;
}
