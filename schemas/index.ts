// The definition language of eventops: schemas and types of every kind, YAML loading with
// positions, validation across a repository, `${{ }}` expressions and the converter for
// original eventops files. Other modules import only from here.
export * from './language/index.js';
export * from './loader/index.js';
export * from './validate/index.js';
export * from './expressions/index.js';
export { detectLegacy, convertLegacy, gjsonToCel, type LegacyConversion, type LegacyFormat } from './legacy/index.js';
export * as storage from './database/index.js';
