// The task-fields and output-source rules for container tasks without `commands`, which run their
// image as built: valid on their own, with `shell` and `workdir` reported as having no effect and
// outputs that only commands can give (`fromEnv`, `fromFile`) reported as errors.
import { describe, expect, it } from 'vitest';
import { validateFiles } from '../index.js';

// One actuator of each type a task here may have, so no selector warning muddles the findings.
const actuators = `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: local }
spec: { local: {} }
---
apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: docker }
spec: { docker: {} }
---
apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: cluster }
spec: { kubernetes: { inCluster: true } }
---
apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: edge }
spec: { agent: { id: edge } }
`;

/** The findings for a pipeline whose task list is `tasks` (YAML, indented under `tasks:`), as `line rule severity: message`. */
function findings(tasks: string): string[] {
  const text = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: p }
spec:
  tasks:
${tasks}`;
  const result = validateFiles([
    { path: 'actuators.yaml', text: actuators },
    { path: 'p.yaml', text },
  ]);
  return result.diagnostics.map((d) => `${d.line} ${d.rule} ${d.severity}: ${d.message}`);
}

describe('container tasks without commands', () => {
  it('are valid for docker, kubernetes and agent tasks with an image, with outputs from $EVENTOPS_OUTPUT or a value', () => {
    expect(
      findings(`    - { name: a, type: docker, image: "registry.internal/migrate:1", env: { DB: x }, outputs: [ { name: version }, { name: fixed, value: "1" } ] }
    - { name: b, type: kubernetes, image: "registry.internal/migrate:1", commands: [] }
    - { name: c, type: agent, image: "registry.internal/migrate:1", resources: { memory: 1Gi } }
`),
    ).toEqual([]);
  });

  it('report shell and workdir as not applying (a warning), and fromEnv and fromFile outputs as errors', () => {
    expect(
      findings(`    - name: a
      type: docker
      image: "registry.internal/migrate:1"
      shell: bash
      workdir: src
      outputs:
        - { name: version, fromEnv: VERSION }
        - { name: report, fromFile: report.txt }
    - { name: b, type: kubernetes, image: x, outputs: [ { name: v, fromEnv: V } ] }
    - { name: c, type: agent, image: x, workdir: w }
`),
    ).toEqual([
      '9 task-fields warning: `shell` does not apply: a task without `commands` runs its image as built (its own entrypoint, cmd and workdir); add `commands`, or remove `shell`',
      '10 task-fields warning: `workdir` does not apply: a task without `commands` runs its image as built (its own entrypoint, cmd and workdir); add `commands`, or remove `workdir`',
      '12 output-source error: output `version`: `fromEnv` needs `commands`; a task without `commands` runs its image as built; its outputs come only from `name=value` lines written to `$EVENTOPS_OUTPUT`',
      '13 output-source error: output `report`: `fromFile` needs `commands`; a task without `commands` runs its image as built; its outputs come only from `name=value` lines written to `$EVENTOPS_OUTPUT`',
      '14 output-source error: output `v`: `fromEnv` needs `commands`; a task without `commands` runs its image as built; its outputs come only from `name=value` lines written to `$EVENTOPS_OUTPUT`',
      '15 task-fields warning: `workdir` does not apply: a task without `commands` runs its image as built (its own entrypoint, cmd and workdir); add `commands`, or remove `workdir`',
    ]);
  });

  it('are not reported once the task has commands', () => {
    expect(findings(`    - { name: a, type: docker, image: x, shell: bash, workdir: src, commands: [ "make" ], outputs: [ { name: v, fromEnv: V }, { name: r, fromFile: r.txt } ] }
`)).toEqual([]);
  });

  it('still need commands on local and ssh tasks, and on agent tasks without an image', () => {
    expect(
      findings(`    - { name: a, type: agent, outputs: [ { name: v, fromEnv: V } ] }
    - { name: b, type: docker }
`),
    ).toEqual([
      '6 task-fields error: an agent task needs `commands` (a list of shell commands), or an `image` to run as built',
      '7 task-fields error: a docker task needs an `image`, e.g. `image: node:20`',
    ]);
    expect(findings(`    - { name: a, shell: bash }
`)).toEqual(['6 task-fields error: a local task needs `commands` (a list of shell commands)']);
  });
});
