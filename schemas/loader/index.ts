// Reading YAML definition files with source positions.
export { parseYamlFile, parseYamlValue, YamlValueError, type SourceFile, type YamlDocument, type YamlParseOptions, type Path, type PathSegment } from './parse-yaml.js';
export { checkAliases, mayHoldAlias, type AliasProblem } from './alias-limit.js';
export { readDefinitionFiles, listDefinitionFiles, PathNotFoundError } from './read-files.js';
export { firstLineOf, formatDiagnostic, sortDiagnostics, type Diagnostic, type Severity, type Position } from './diagnostic.js';
export { keepStringText } from './keep-string-text.js';
