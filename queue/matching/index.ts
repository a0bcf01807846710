// Trigger matching: which triggers an event is for, whether their filters hold, and the runs
// they would start with which inputs — with a reason for every verdict. Pure and shared by the
// server's event worker and the offline `eventops test-event`.
export { createEvent, eventView, scheduleTarget, type NormalizedEvent, type EventFields } from './normalized-event.js';
export { cloudEventOf, eventFromDefinition, eventFromGithub, EventShapeError, type Arrival, type GithubDelivery } from './event-documents.js';
export { SubjectTrie, subjectMatches } from './subject-trie.js';
export { buildTriggerIndex, buildTriggerIndexYielding, type TriggerIndex } from './trigger-index.js';
export type { TriggerEntry, CompiledTrigger } from './compiled-trigger.js';
export { commandOf, commandsOf, type CommandCall } from './commands.js';
export type { FilterVerdict } from './filters.js';
export { resolveInputs, type InputsResult } from './resolve-inputs.js';
export { dedupeKey, type DedupeResult } from './dedupe.js';
export { matchEvent, matchEventYielding, type MatchLimits, type YieldingOptions, type MatchResult, type MatchOptions, type PipelineLookup, type PlannedRun, type TriggerVerdict, type Verdict } from './match-event.js';
