// The JSON Schemas committed under schemas/ are what the TypeBox definitions generate, and
// they accept the definitions the validator accepts.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { publishedSchemas } from '../schemas/published.js';

const dir = fileURLToPath(new URL('../schemas/', import.meta.url));

describe('published schemas', () => {
  it('are up to date (run `npm run schemas` after changing the language)', async () => {
    for (const [file, schema] of Object.entries(publishedSchemas())) {
      const committed = JSON.parse(await readFile(`${dir}${file}`, 'utf8')) as unknown;
      expect(committed, file).toEqual(JSON.parse(JSON.stringify(schema)));
    }
  });

  it('work as plain JSON Schema, chosen by kind', async () => {
    const ajv = new Ajv({ strict: false });
    for (const kind of ['actuator', 'pipeline', 'trigger', 'event']) {
      ajv.addSchema(JSON.parse(await readFile(`${dir}${kind}.schema.json`, 'utf8')) as object, `${kind}.schema.json`);
    }
    const validate = ajv.compile(JSON.parse(await readFile(`${dir}definition.schema.json`, 'utf8')) as object);
    const pipeline = { apiVersion: 'eventops.dev/v1', kind: 'Pipeline', metadata: { name: 'p' }, spec: { tasks: [{ name: 't', commands: ['true'] }] } };
    expect(validate(pipeline)).toBe(true);
    expect(validate({ ...pipeline, spec: { tasks: [{ name: 'T!' }] } })).toBe(false);
    expect(validate({ apiVersion: 'eventops.dev/v1', kind: 'Actuator', metadata: { name: 'a' }, spec: { local: {}, extra: 1 } })).toBe(false);
  });
});
