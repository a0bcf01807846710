// Notifications and CloudEvents out: the events of run transitions, stored with the transition
// (record-run-events.ts) and sent in order to NATS and to `notify` sinks (run-event-publisher.ts).
export { runCloudEvents, taskStartedCloudEvent, type CloudEvent, type PendingRunEvent } from './run-cloud-events.js';
export { recordRunEvents, recordTaskStarted, type RecordOptions } from './record-run-events.js';
export { createRunEventPublisher, type RunEventPublisher, type RunEventPublisherDeps } from './run-event-publisher.js';
