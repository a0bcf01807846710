// Reading files of the original eventops (Go) and converting them to v1.
export { detectLegacy, convertLegacy } from './convert.js';
export { gjsonToCel } from './gjson-path.js';
export type { LegacyConversion, LegacyFormat, LegacyProblem } from './types.js';
