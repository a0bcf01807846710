// Original eventops files are recognised, converted to v1 and validated, with a warning.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, readDefinitionFiles, validateFiles, type Definition } from '../index.js';
import { gjsonToCel } from './index.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/legacy/', import.meta.url));

async function load(...folders: string[]) {
  return validateFiles(await readDefinitionFiles(folders, fixtures));
}

function byName(defs: Definition[], kind: string, name: string): Record<string, unknown> {
  const def = defs.find((d) => d.kind === kind && d.name === name);
  if (!def) throw new Error(`${kind}/${name} not found`);
  return def.value as Record<string, unknown>;
}

describe('original eventops files', () => {
  it('convert and validate without errors, each with a warning that names the conversion', async () => {
    const result = await load('hello-world', 'mixed');
    expect(result.errors, result.diagnostics.map(formatDiagnostic).join('\n')).toBe(0);
    expect(result.definitions.map((d) => `${d.kind}/${d.legacy}`).sort()).toEqual([
      'Actuator/actuatorDefinition',
      'Actuator/actuatorDefinition',
      'Actuator/actuatorDefinition',
      'Actuator/actuatorDefinition',
      'Event/event',
      'Event/event',
      'Pipeline/pipelineDefinition',
      'Pipeline/pipelineDefinition',
      'Pipeline/pipelineDefinition',
      'Trigger/triggerDefinition',
      'Trigger/triggerDefinition',
    ]);
    const conversions = result.diagnostics.filter((d) => d.rule === 'legacy-format' && d.message.startsWith('original eventops'));
    expect(conversions).toHaveLength(11);
    expect(conversions[0]!.severity).toBe('warning');
  });

  it('hello-world: os becomes ssh, `needs: [root]` no needs, seconds a duration', async () => {
    const { definitions } = await load('hello-world');
    expect(byName(definitions, 'Actuator', 'build-box').spec).toEqual({
      tags: ['os-runner'],
      ssh: { host: '10.1.2.3', user: 'deploy', password: { secret: 'BUILD_BOX_PASSWORD' } },
    });
    const pipeline = byName(definitions, 'Pipeline', 'hello-world');
    expect(pipeline.metadata).toEqual({ name: 'hello-world', annotations: { 'eventops.dev/original-version': '1.0' } });
    expect((pipeline.spec as { tasks: unknown[] }).tasks).toEqual([{ name: 'say-hello', type: 'ssh', commands: ['echo "hello world"'], timeout: '60s' }]);
    expect(byName(definitions, 'Trigger', 'greet-on-request').spec).toEqual({
      event: { source: 'api', type: 'greet' },
      filters: [
        { path: 'body.version', value: ['1.0'] },
        { path: 'body.labels.team', value: ['platform'] },
      ],
      pipelines: [{ name: 'hello-world' }],
    });
  });

  it('mixed: docker, k8s and pipeline tasks; outputs references; gjson inputs', async () => {
    const { definitions } = await load('mixed');
    const spec = byName(definitions, 'Pipeline', 'release').spec as { tasks: Record<string, unknown>[]; outputs: unknown };
    expect(spec.tasks.map((t) => [t.name, t.type, t.needs])).toEqual([
      ['prepare', 'ssh', undefined],
      ['build-image', 'docker', ['prepare']],
      ['apply', 'kubernetes', ['build-image']],
      ['notify-chat', 'pipeline', ['apply']],
    ]);
    expect(spec.tasks[1]!.commands).toContain('echo "digest-of-${{ tasks.prepare.outputs.tag }}" > digest.txt');
    expect(spec.tasks[0]!.outputs).toEqual([{ name: 'tag', fromEnv: 'TAG', setToContext: 'image_tag' }]);
    expect(spec.tasks[3]).toMatchObject({ pipeline: 'notify', inputs: { message: 'released ${{ contexts.image_tag }}' } });
    // A renamed output of a pipeline task reads the called pipeline's output.
    expect(spec.outputs).toEqual([
      { name: 'digest', value: '${{ tasks.build-image.outputs.digest }}' },
      { name: 'sent', value: '${{ tasks.notify-chat.outputs.sent_at }}' },
    ]);
    const trigger = byName(definitions, 'Trigger', 'release-on-request').spec as Record<string, unknown>;
    expect(trigger.pipelines).toEqual([{ name: 'release', inputs: { service: '${{ event.body.values.service }}', manifest: '${{ event.body.files.manifest.value }}' } }]);
    expect(trigger.filters).toContainEqual({ path: 'body.version', value: ['1.2'] });
    expect(byName(definitions, 'Actuator', 'docker-box').spec).toEqual({ tags: ['docker-runner'], docker: { host: 'tcp://10.1.2.4:2375' } });
  });

  it('refuses literal credentials and reports problems at the original lines', async () => {
    const result = await load('refused');
    const errors = result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line} ${d.rule}`);
    expect(errors).toEqual(expect.arrayContaining(['refused/bad-dag.yaml:7 legacy-convert', 'refused/literal-password.yaml:7 secret-literal', 'refused/literal-password.yaml:10 secret-literal']));
    const text = result.diagnostics.map(formatDiagnostic).join('\n');
    expect(text).not.toContain('hunter2-literal');
    expect(JSON.stringify(result.definitions.map((d) => d.value))).not.toContain('hunter2-literal');
  });

  it('turns gjson paths into CEL paths and refuses queries', () => {
    expect(gjsonToCel('values.user-name.0', 'event.body')).toEqual({ cel: 'event.body.values["user-name"][0]' });
    expect(gjsonToCel('a\\.b.c', 'body')).toEqual({ cel: 'body["a.b"].c' });
    expect(gjsonToCel('friends.#.name', 'body')).toHaveProperty('error');
  });
});
