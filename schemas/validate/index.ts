// Validation of definition sets: structure, semantics, diagnostics.
export {
  validateFiles,
  validateParsed,
  parseDefinitionFile,
  RULES,
  type ValidationResult,
  type ParsedFile,
  type ValidationState,
  type IncrementalResult,
} from './validate-files.js';
export type { Definition } from './definition.js';
export { secretLike } from './rules/secrets.js';
export { templateOrigins, originResolver, toPointer } from './template-origins.js';
export { suggestion, distance } from './suggest.js';
