// Reading YAML definition files with source positions.
export { parseYamlFile, type SourceFile, type YamlDocument, type Path, type PathSegment } from './parse-yaml.js';
export { readDefinitionFiles, listDefinitionFiles, PathNotFoundError } from './read-files.js';
export { formatDiagnostic, sortDiagnostics, type Diagnostic, type Severity, type Position } from './diagnostic.js';
export { keepStringText } from './keep-string-text.js';
