// `eventops runs list|get|logs|cancel|approve|reject`: the runs of the running server, a run's
// tasks, its log (followed with -f until the run ends: exit 0 when it succeeded, else 1), and
// what a person may do to a run (scope `runs:write`). Talks to the server's HTTP API (docs/api.md).
import type { Command } from 'commander';
import { ApiRequestError, createApiClient, resolveServer, type ApiClient } from '../api-client.js';
import { resolveApiToken } from '../api-token.js';
import { parseOutputFormat, serialize, UsageError, type Io, type OutputFormat } from '../output.js';
import type { CancelAnswer, DecisionAnswer, LogEnd, LogLineItem, LogPage, RunDetail, RunPage } from '../../webhooks/index.js';
import { print, withClientOptions, type ClientOptions } from './client-options.js';
import { formatLogLine, formatRunDetail, formatRunList } from './runs-format.js';
import { readServerSentEvents } from './server-sent-events.js';

interface ListOptions extends ClientOptions {
  pipeline?: string;
  status?: string;
  trigger?: string;
  source?: string;
  event?: string;
  limit?: string;
  cursor?: string;
}

interface LogsOptions extends ClientOptions {
  task?: string;
  follow?: boolean;
}

/** The server refused or broke off following: reconnecting would not help. */
class FollowError extends Error {}

/** How often a followed log is reconnected after the connection dropped, before giving up. */
const RECONNECTS = 5;
const RECONNECT_DELAY_MS = 1000;

/** Adds the subcommands to `runs` (created with `program.command` so it inherits the program's settings). */
export function addRunsCommands(runs: Command, io: Io, setExit: (code: number) => void): Command {
  withClientOptions(runs.command('list').description('the newest runs, filtered'))
    .option('--pipeline <name>', 'runs of this pipeline')
    .option('--status <status>', 'comma-separated: pending, running, succeeded, failed, cancelled, timed_out')
    .option('--trigger <name>', 'runs started by this trigger')
    .option('--source <name>', 'runs of this source')
    .option('--event <id>', 'runs started by this event')
    .option('--limit <n>', 'at most this many, 1 to 500 (default 50)')
    .option('--cursor <cursor>', 'the page after this one (printed when there are more)')
    .action(async (opts: ListOptions) => setExit(await listRuns(opts, io)));
  withClientOptions(runs.command('get').description('one run: status, inputs, outputs and a table of its tasks'))
    .argument('<id>', 'the run id')
    .action(async (id: string, opts: ClientOptions) => setExit(await getRun(id, opts, io)));
  withClientOptions(runs.command('logs').description("a run's log, every task or one; -f follows it until the run ends (exit 0 when it succeeded, else 1)"))
    .argument('<id>', 'the run id')
    .option('--task <name>', "this task's lines only (with -f: until this task ends)")
    .option('-f, --follow', 'print lines as they are written, until the run (or --task) ends')
    .action(async (id: string, opts: LogsOptions) => setExit(await runLogs(id, opts, io)));
  withClientOptions(runs.command('cancel').description('cancel a run: its tasks are stopped, its finally tasks still run (scope runs:write)'))
    .argument('<id>', 'the run id')
    .action(async (id: string, opts: ClientOptions) => setExit(await cancelRun(id, opts, io)));
  for (const decision of ['approve', 'reject'] as const) {
    withClientOptions(runs.command(decision).description(`${decision} an approval task that waits (scope runs:write); it is recorded under the token's name`))
      .argument('<id>', 'the run id')
      .argument('<task>', 'the approval task')
      .option('--comment <text>', 'why; the task\'s `comment` output')
      .action(async (id: string, task: string, opts: ClientOptions & { comment?: string }) => setExit(await decide(decision, id, task, opts, io)));
  }
  return runs;
}

/** Like client-options' connect, but keeps the token: following a log needs a streaming request the JSON client does not make. */
async function connect(opts: ClientOptions, io: Io): Promise<{ client: ApiClient; output: OutputFormat; server: string; token: string | undefined }> {
  const env = io.env ?? process.env;
  const server = resolveServer(opts.server, env);
  const output = parseOutputFormat(opts.output);
  const lookup = await resolveApiToken(opts.token, env, io.cwd);
  return { client: createApiClient(server, lookup), output, server, token: lookup.token?.value };
}

const path = (id: string, rest = '') => `/api/v1/runs/${encodeURIComponent(id)}${rest}`;

async function listRuns(opts: ListOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const query = new URLSearchParams();
  for (const key of ['pipeline', 'status', 'trigger', 'source', 'event', 'limit', 'cursor'] as const) {
    const value = opts[key];
    if (value) query.set(key, value);
  }
  const page = (await client.get(`/api/v1/runs${query.size > 0 ? `?${query}` : ''}`)) as RunPage;
  print(io, output, page, () => formatRunList(page.runs, Date.now()));
  if (output === 'table' && page.nextCursor) io.err(`more runs: add --cursor ${page.nextCursor}\n`);
  return 0;
}

async function getRun(id: string, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const run = (await client.get(path(id))) as RunDetail;
  print(io, output, run, () => formatRunDetail(run, Date.now()));
  return 0;
}

async function runLogs(id: string, opts: LogsOptions, io: Io): Promise<number> {
  const c = await connect(opts, io);
  // First a plain request: an unknown run, a wrong token or no server are reported as for every command.
  const run = (await c.client.get(path(id))) as RunDetail;
  if (opts.task !== undefined && run.tasks.length > 0 && !run.tasks.some((t) => t.name === opts.task)) {
    throw new UsageError(`run ${id} has no task ${JSON.stringify(opts.task)}; its tasks are ${run.tasks.map((t) => t.name).join(', ')}`);
  }
  const width = Math.max(0, ...run.tasks.map((t) => t.name.length + (t.attempt > 1 ? `#${t.attempt}`.length : 0)));
  const printLine = (line: LogLineItem) => io.out(c.output === 'table' ? formatLogLine(line, width) : c.output === 'json' ? `${JSON.stringify(line)}\n` : `---\n${serialize(line, 'yaml')}`);
  const task = opts.task ? `&task=${encodeURIComponent(opts.task)}` : '';
  if (!opts.follow) {
    // Pages of at most limits.logs.pageBytes; a page may end inside a chunk (`nextLine`).
    let after = 0;
    let line = 0;
    for (;;) {
      const page = (await c.client.get(path(id, `/logs?after=${after}${line > 0 ? `&line=${line}` : ''}${task}`))) as LogPage;
      page.lines.forEach(printLine);
      if (!page.more) return 0;
      after = page.next;
      line = page.nextLine ?? 0;
    }
  }
  const end = await followLog(c.server, c.token, path(id, `/logs?follow=1${task}`), printLine);
  const status = opts.task !== undefined ? end.taskStatus : end.status;
  if (c.output === 'table') io.err(opts.task !== undefined ? `task ${opts.task} ${status ?? 'ended'}\n` : `run ${id} ${status}\n`);
  return status === 'succeeded' ? 0 : 1;
}

/** Reads the event stream until its `end`; reconnects (resuming after the last chunk) when the connection drops. */
async function followLog(server: string, token: string | undefined, url: string, onLine: (line: LogLineItem) => void): Promise<LogEnd> {
  let lastId: string | undefined;
  let failures = 0;
  for (;;) {
    let reason: string;
    try {
      const res = await fetch(`${server}${url}`, {
        headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(lastId ? { 'last-event-id': lastId } : {}) },
      });
      if (!res.ok || !res.body) throw await answerError(res, server, url);
      for await (const event of readServerSentEvents(res.body)) {
        failures = 0;
        if (event.id !== undefined) lastId = event.id;
        if (event.event === 'line') onLine(JSON.parse(event.data) as LogLineItem);
        else if (event.event === 'end') return JSON.parse(event.data) as LogEnd;
        else if (event.event === 'error') {
          const said = JSON.parse(event.data) as { code?: string; message?: string };
          // Fell behind a fast log: the server asks for a reconnect, which resumes after lastId.
          if (said.code === 'TooSlow') break;
          throw new FollowError(`the server at ${server} stopped following the log: ${said.message ?? event.data}`);
        }
      }
      reason = 'the connection closed before the run ended';
    } catch (error) {
      if (error instanceof ApiRequestError || error instanceof FollowError) throw error;
      reason = error instanceof Error ? error.message : String(error);
    }
    if (++failures > RECONNECTS) throw new Error(`lost the log stream of ${server}${url} ${RECONNECTS} times in a row (${reason}); see the rest with \`eventops runs logs\``);
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
  }
}

async function answerError(res: Response, server: string, url: string): Promise<ApiRequestError> {
  let body: { error?: { code?: string; message?: string } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // Not JSON: the status says enough.
  }
  return new ApiRequestError(res.status, body.error?.code ?? 'HttpError', body.error?.message ?? `the server at ${server} answered GET ${url} with ${res.status} ${res.statusText}`.trimEnd());
}

async function cancelRun(id: string, opts: ClientOptions, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const answer = (await client.post(path(id, '/cancel'))) as CancelAnswer;
  print(io, output, answer, () =>
    answer.status === 'cancelled' ? `run ${id} cancelled\n` : `run ${id}: cancel requested; it ends as cancelled once its running tasks have stopped (follow with: eventops runs logs ${id} -f)\n`,
  );
  return 0;
}

async function decide(decision: 'approve' | 'reject', id: string, task: string, opts: ClientOptions & { comment?: string }, io: Io): Promise<number> {
  const { client, output } = await connect(opts, io);
  const answer = (await client.post(path(id, `/tasks/${encodeURIComponent(task)}/${decision}`), { body: opts.comment !== undefined ? { comment: opts.comment } : {} })) as DecisionAnswer;
  print(io, output, answer, () => `task ${task} of run ${id} ${decision === 'approve' ? 'approved' : 'rejected'} by ${answer.task.decidedBy ?? 'you'}\n`);
  return 0;
}
