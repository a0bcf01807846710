// Writes the published JSON Schemas (`schemas/<kind>.schema.json`) from the TypeBox
// definitions, so editors can complete and check definition files. A test fails when the
// committed files are out of date: run `npm run schemas` after changing the language.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { publishedSchemas } from '../schemas/published.js';

const root = fileURLToPath(new URL('../schemas/', import.meta.url));
for (const [file, schema] of Object.entries(publishedSchemas())) {
  await writeFile(`${root}${file}`, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schemas/${file}`);
}
