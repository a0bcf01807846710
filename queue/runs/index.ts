// The run engine: DAG transitions, the task worker, logs and the run sweeper.
export { decide, outcome, isTerminal, type Decision as DagDecision, type PlanTask, type RunStatus, type TaskStatus, type Stop } from './dag.js';
export { createRunEngine, RunStateError, type RunEngine, type RunEngineDeps, type RunTransition, type Tx, type AttemptResult, type Decision, type Job } from './run-engine.js';
export { createTaskWorker, type TaskWorkerDeps } from './task-worker.js';
export { definitionsAtRevision, type DefinitionsAtRevision, type RevisionDefinitions } from './definitions-at-revision.js';
export { sweepRuns, startRunSweeper, type RunSweep, type RunSweepDeps } from './run-sweeper.js';
export { createLogWriter, type LogWriter } from './log-writer.js';
export { actuatorCandidates, BUILTIN_LOCAL, type RunnerType } from './pick-actuator.js';
export { taskExecution } from './task-execution.js';
export { startAgentPresence, agentStates, type AgentPresence, type AgentState } from './agent-presence.js';
export { startAgentDispatch, type AgentDispatch, type AgentDispatchDeps } from './agent-dispatch.js';
export { createActuatorRunners, type ActuatorRunners, type RunnerKind } from './actuator-runners.js';
export type { ActuatorChoice } from './pick-actuator.js';
export { attemptOwnership } from './attempt-ownership.js';
export { startOrphanReaper, type OrphanReaperDeps } from './orphan-reaper.js';
