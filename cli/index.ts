// The command-line interface.
export { run, buildProgram, VERSION } from './main.js';
export type { Io } from './output.js';
