// Run-time evaluation errors point at the file and line where the expression was written.
import { describe, expect, it } from 'vitest';
import { renderValue } from '../expressions/index.js';
import { originResolver, templateOrigins, validateFiles } from './index.js';

const text = `apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: p }
spec:
  inputs: [ { name: count, type: integer } ]
  tasks:
    - name: t
      if: "inputs.count > 1"
      commands: [ "echo hi" ]
      env:
        HALF: "\${{ inputs.count / 0 }}"
`;

describe('templateOrigins', () => {
  it('maps each template to its position and feeds error messages', () => {
    const { definitions, errors } = validateFiles([{ path: 'pipelines/p.yaml', text }]);
    expect(errors).toBe(0);
    const def = definitions[0]!;
    const origins = templateOrigins(def);
    expect(origins).toEqual({ '/spec/tasks/0/if': { line: 8, column: 11 }, '/spec/tasks/0/env/HALF': { line: 11, column: 15 } });
    const task = (def.value as { spec: { tasks: { env: object }[] } }).spec.tasks[0]!;
    expect(() => renderValue(task.env, 'pipeline', { inputs: { count: 4 } }, originResolver(def.file, origins, ['spec', 'tasks', 0, 'env']))).toThrow(
      'pipelines/p.yaml:11:15: division by zero in `${{ inputs.count / 0 }}`',
    );
  });
});
