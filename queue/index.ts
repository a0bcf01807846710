// Queues and what flows through them: the typed catalog and its drivers (BullMQ, embedded), the
// sweeper, trigger matching, the match-event handler, schedules, the NATS source and the CloudEvents of runs (notify).
export * from './jobs/index.js';
export * from './matching/index.js';
export { activeTriggersCache, type ActiveTriggers, type ActiveTriggersCache } from './match/active-triggers.js';
export { matchStoredEvent, toNormalizedEvent, type MatchDeps, type MatchOutcome, type StoredVerdict } from './match/match-stored-event.js';
export { startScheduler, scheduledTriggers, type Scheduler, type SchedulerDeps } from './schedules/scheduler.js';
export { dueTicks, tickDeliveryId, type ScheduledTrigger } from './schedules/due-ticks.js';
export { startNatsSource, type NatsSource, type NatsSourceOptions } from './nats/nats-source.js';
export * from './runs/index.js';
export { createRunEventPublisher, recordRunEvents, recordTaskStarted, runCloudEvents, type CloudEvent, type RecordOptions, type RunEventPublisher } from './notify/index.js';
