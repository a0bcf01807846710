// `notify` of Pipelines and Triggers beyond its schema: exactly one of `url` or `nats`, a URL
// that is http(s) with no credentials in it (they go in `headers` as `{ secret: NAME }`), a NATS
// subject without wildcards, `headers` only on URL sinks and not the request's own (Content-Type,
// Host, …), and no status listed twice.
import type { NotifySink } from '../../language/index.js';
import type { Rule, RuleContext } from '../context.js';
import type { Definition } from '../definition.js';

const SUBJECT_TOKEN = /^[^\s.*>]+$/;
/** Headers of the request itself, which a definition may not set. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'host', 'transfer-encoding', 'connection']);

export const notifySinks: Rule = (ctx) => {
  for (const def of ctx.definitions) {
    if ((def.kind !== 'Pipeline' && def.kind !== 'Trigger') || !ctx.checks(def)) continue;
    const sinks = (def.value as { spec?: { notify?: NotifySink[] } }).spec?.notify ?? [];
    sinks.forEach((sink, i) => checkSink(ctx, def, i, sink));
  }
};

function checkSink(ctx: RuleContext, def: Definition, i: number, sink: NotifySink): void {
  const at = ['spec', 'notify', i];
  if ((sink.url === undefined) === (sink.nats === undefined)) {
    ctx.report(def, at, 'notify-sink', 'a notify entry needs exactly one of `url: https://…` (a webhook) or `nats: subject` (a NATS subject)');
  }
  if (typeof sink.url === 'string') {
    const problem = urlProblem(sink.url);
    if (problem) ctx.report(def, [...at, 'url'], 'notify-url', problem);
  }
  if (sink.nats !== undefined && !sink.nats.split('.').every((token) => SUBJECT_TOKEN.test(token))) {
    ctx.report(def, [...at, 'nats'], 'notify-subject', `${JSON.stringify(sink.nats)} is not a NATS subject to publish to: dot-separated tokens without spaces or the wildcards \`*\` and \`>\`, e.g. \`ops.notifications.deploy\``);
  }
  if (sink.headers !== undefined && sink.url === undefined) {
    ctx.report(def, [...at, 'headers'], 'notify-headers', '`headers` apply to `url` sinks only; remove them from this NATS sink', { at: 'key' });
  }
  for (const name of Object.keys(sink.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) ctx.report(def, [...at, 'headers', name], 'notify-headers', `eventops sets \`${name}\` itself (the body is a CloudEvent, \`application/cloudevents+json\`); remove it`, { at: 'key' });
  }
  const seen = new Set<string>();
  sink.on.forEach((status, j) => {
    if (seen.has(status)) ctx.report(def, [...at, 'on', j], 'notify-on', `\`${status}\` is listed twice in \`on\``);
    seen.add(status);
  });
}

function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not a URL; write an absolute http(s) URL such as \`https://hooks.example.com/eventops\``;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `a notify URL must be http or https, not ${url.protocol.replace(/:$/, '')}`;
  // Never echo the credentials back: the finding names only where they are.
  if (url.username || url.password) return 'this URL carries credentials; definitions are stored in git and in the database, so remove them and send them in `headers` as `{ secret: NAME }`';
  return undefined;
}
