// The notify rules: one of url or nats, an http(s) URL without credentials, a NATS subject without
// wildcards, headers only on URL sinks, statuses listed once, secrets only as references.
import { describe, expect, it } from 'vitest';
import { validateFiles } from '../index.js';

/** The findings for a pipeline whose `notify:` is `notify` (flow YAML), as `line:column rule: message`. */
function findings(notify: string): string[] {
  const text = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: deploy }
spec:
  tasks: [ { name: a, commands: [ "true" ] } ]
  notify: ${notify}
`;
  return validateFiles([{ path: 'p.yaml', text }]).diagnostics.filter((d) => d.rule !== 'selector-unsatisfied').map((d) => `${d.line}:${d.column} ${d.rule}: ${d.message}`);
}

describe('notify', () => {
  it('accepts a webhook with a secret header and a NATS subject', () => {
    expect(findings('[ { url: "https://hooks.example.com/x", on: [succeeded, failed, task.failed], headers: { Authorization: { secret: HOOK_TOKEN }, X-Team: ops } }, { nats: ops.notifications.deploy, on: [started] } ]')).toEqual([]);
  });

  it('takes the URL itself as a secret, and refuses a hook URL that is a credential written out', () => {
    expect(findings('[ { url: { secret: SLACK_HOOK }, on: [failed] } ]')).toEqual([]);
    expect(findings('[ { url: "https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX", on: [failed] } ]').map((f) => f.split(' ')[1])).toEqual(['secret-literal:']);
  });

  it('needs exactly one of url or nats, at the entry', () => {
    expect(findings('[ { on: [failed] } ]')).toEqual(['6:13 notify-sink: a notify entry needs exactly one of `url: https://…` (a webhook) or `nats: subject` (a NATS subject)']);
    expect(findings('[ { url: "https://h.example/x", nats: a.b, on: [failed] } ]').map((f) => f.split(':').slice(0, 2).join(':'))).toEqual(['6:13 notify-sink']);
  });

  it('refuses URLs that are not http(s) or carry credentials, without repeating them', () => {
    expect(findings('[ { url: "ftp://h.example/x", on: [failed] } ]')).toEqual(['6:20 notify-url: a notify URL must be http or https, not ftp']);
    const withCredentials = findings('[ { url: "https://bot:hunter22@h.example/x", on: [failed] } ]');
    expect(withCredentials.map((f) => f.split(' ')[1])).toContain('notify-url:');
    expect(withCredentials.join()).not.toContain('hunter22');
  });

  it('refuses wildcards in a NATS subject, headers on a NATS sink, a status twice, an unknown status', () => {
    expect(findings('[ { nats: "ops.*", on: [failed, failed] } ]')).toEqual([
      '6:21 notify-subject: "ops.*" is not a NATS subject to publish to: dot-separated tokens without spaces or the wildcards `*` and `>`, e.g. `ops.notifications.deploy`',
      '6:43 notify-on: `failed` is listed twice in `on`',
    ]);
    expect(findings('[ { nats: a.b, on: [failed], headers: { X: y } } ]').map((f) => f.split(' ')[1])).toEqual(['notify-headers:']);
    expect(findings('[ { url: "https://h.example/x", on: [failed], headers: { Content-Type: text/plain } } ]')).toEqual(['6:68 notify-headers: eventops sets `Content-Type` itself (the body is a CloudEvent, `application/cloudevents+json`); remove it']);
    expect(findings('[ { nats: a.b, on: [finished] } ]').map((f) => f.split(' ')[1])).toEqual(['schema:']);
  });

  it('takes a credential-looking header value as a secret literal', () => {
    expect(findings('[ { url: "https://h.example/x", on: [failed], headers: { X-Api-Key: "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB" } } ]').map((f) => f.split(' ')[1])).toContain('secret-literal:');
  });
});
