// The runners module: the interface every actuator type implements, and the adapters built so
// far. The conformance suite (conformance.ts) is for tests and is imported from its own file.
export type { LogLine, LogStream, Runner, RunnerIo, TaskExecution, TaskResult } from './runner.js';
export { createLocalRunner, type LocalRunnerOptions } from './local-runner.js';
export { createMasker, MASK } from './mask.js';
