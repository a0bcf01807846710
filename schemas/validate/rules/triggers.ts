// Triggers: something to listen to, a valid event source and subject pattern, a cron
// expression that parses, filters of one form with regexes that compile, a slash-command,
// and pipelines of this repository given the inputs they require.
import { Cron } from 'croner';
import { parseDuration, type Trigger } from '../../language/index.js';
import type { Rule, RuleContext } from '../context.js';
import type { Definition } from '../definition.js';
import { checkInputValues } from './input-values.js';
import { suggestion } from '../suggest.js';

const SOURCE = /^(github|api|nats|schedule|webhook\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/;
const FILTER_ROOTS = ['body', 'headers', 'labels', 'subject', 'source', 'type', 'id'];

export const triggerShape: Rule = (ctx) => {
  for (const def of ctx.triggers) if (ctx.checks(def)) checkTrigger(ctx, def);
};

function checkTrigger(ctx: RuleContext, def: Definition<Trigger>): void {
  const spec = def.value.spec;
  const source = spec.event?.source;
  if (!spec.event && !spec.command && !spec.schedule) {
    ctx.report(def, ['spec'], 'trigger-event', 'a trigger needs something to listen to: `event` (source, type, subject), `command` or `schedule`');
  }
  if (source !== undefined && !SOURCE.test(source)) {
    ctx.report(def, ['spec', 'event', 'source'], 'event-source', `unknown event source ${JSON.stringify(source)}; use github, api, nats, schedule or webhook/<receiver-name>`);
  }
  if (spec.event?.subject !== undefined) {
    const problem = subjectProblem(spec.event.subject);
    if (problem) ctx.report(def, ['spec', 'event', 'subject'], 'subject-pattern', problem);
  }
  if (spec.schedule !== undefined) {
    let cron: Cron | undefined;
    try {
      cron = new Cron(spec.schedule, { paused: true });
    } catch (error) {
      ctx.report(def, ['spec', 'schedule'], 'cron', `${JSON.stringify(spec.schedule)} is not a valid cron expression (${error instanceof Error ? error.message : String(error)}); use five fields: minute hour day-of-month month day-of-week, e.g. \`*/10 * * * *\``);
    }
    cron?.stop();
    if (spec.timezone !== undefined && !validTimezone(spec.timezone)) {
      ctx.report(def, ['spec', 'timezone'], 'timezone', `${JSON.stringify(spec.timezone)} is not a known time zone; use an IANA name such as \`Europe/Paris\` or \`UTC\``);
    }
    if (source !== undefined && source !== 'schedule') {
      ctx.report(def, ['spec', 'event', 'source'], 'trigger-event', `a \`schedule\` fires events of source \`schedule\`, but \`event.source\` is \`${source}\`; remove \`event.source\` or set it to schedule`);
    }
  } else if (source === 'schedule') {
    ctx.report(def, ['spec', 'event', 'source'], 'trigger-event', '`event.source: schedule` needs a `schedule` (a cron expression)');
  }
  if (spec.command !== undefined && !/^\/[a-z0-9][-a-z0-9_]*$/i.test(spec.command)) {
    ctx.report(def, ['spec', 'command'], 'command', `${JSON.stringify(spec.command)} is not a slash-command; write a \`/\` and one word, e.g. \`/deploy\` (arguments come after it in the comment)`);
  }
  if (spec.command !== undefined && source !== undefined && source !== 'github') {
    ctx.report(def, ['spec', 'event', 'source'], 'trigger-event', 'slash-commands come from GitHub issue and PR comments; set `event.source: github` or remove it');
  }
  if (spec.permission !== undefined && spec.command === undefined) {
    ctx.report(def, ['spec', 'permission'], 'trigger-event', '`permission` applies to slash-commands; add a `command` or remove `permission`', { severity: 'warning' });
  }
  if (spec.dedupeWindow !== undefined && parseDuration(spec.dedupeWindow) === undefined) {
    ctx.report(def, ['spec', 'dedupeWindow'], 'duration', `${JSON.stringify(spec.dedupeWindow)} is not a duration; write e.g. \`10m\` or \`1h\``);
  }
  (spec.filters ?? []).forEach((filter, i) => {
    const at = ['spec', 'filters', i];
    if ((filter.path === undefined) === (filter.expr === undefined)) {
      ctx.report(def, at, 'filter-shape', 'a filter has either `path` with `value` (a data filter) or `expr` (an expression), not both and not neither');
      return;
    }
    if (filter.path !== undefined) {
      if (filter.value === undefined) ctx.report(def, at, 'filter-shape', `the filter on \`${filter.path}\` needs \`value\`: the list of values that match`);
      const root = filter.path.split('.')[0] as string;
      if (!FILTER_ROOTS.includes(root)) {
        ctx.report(def, [...at, 'path'], 'filter-path', `a filter path starts with one of: ${FILTER_ROOTS.join(', ')} (e.g. \`body.ref\`), not \`${root}\``);
      }
      if (filter.match === 'regex') {
        const values = Array.isArray(filter.value) ? filter.value : [filter.value];
        values.forEach((v, j) => {
          try {
            new RegExp(String(v), 'u');
          } catch (error) {
            ctx.report(def, Array.isArray(filter.value) ? [...at, 'value', j] : [...at, 'value'], 'regex', `${JSON.stringify(v)} is not a valid regular expression: ${error instanceof Error ? error.message.replace(/^Invalid regular expression: /, '') : String(error)}`);
          }
        });
      }
    } else if (filter.value !== undefined || filter.match !== undefined) {
      ctx.report(def, at, 'filter-shape', '`value` and `match` belong to path filters; an `expr` filter is a whole condition');
    }
  });
  (spec.pipelines ?? []).forEach((p, i) => {
    const target = ctx.pipelines.get(p.name);
    if (!target) {
      if (!ctx.invalidNames.has(`Pipeline/${p.name}`)) {
        ctx.report(def, ['spec', 'pipelines', i, 'name'], 'pipeline-unknown', `no pipeline \`${p.name}\` in this repository${suggestion(p.name, [...ctx.pipelines.keys()])}`);
      }
      return;
    }
    checkInputValues(ctx, def, ['spec', 'pipelines', i, 'inputs'], p.inputs, target);
  });
}

/** NATS-style subjects: tokens split by `.`, `*` matches one token, `>` the rest (last only). */
export function subjectProblem(subject: string): string | undefined {
  const tokens = subject.split('.');
  if (tokens.some((t) => t === '')) return `the subject pattern ${JSON.stringify(subject)} has an empty token; tokens are separated by single dots`;
  const gt = tokens.indexOf('>');
  if (gt >= 0 && gt !== tokens.length - 1) return '`>` matches the rest of a subject and may only be the last token';
  if (tokens.some((t) => t.length > 1 && /[*>]/.test(t))) return '`*` and `>` must be whole tokens, e.g. `ops.*.status`';
  if (/\s/.test(subject)) return 'a subject pattern has no spaces';
  return undefined;
}

const zones = new Map<string, boolean>();

function validTimezone(zone: string): boolean {
  let valid = zones.get(zone);
  if (valid === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      valid = true;
    } catch {
      valid = false;
    }
    zones.set(zone, valid);
  }
  return valid;
}
