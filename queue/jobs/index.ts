// The queue catalog and its drivers: BullMQ on Redis for production, embedded in the database for
// one process, one interface and one contract. Plus the sweeper that re-enqueues from Postgres.
export {
  eventopsCatalog,
  defineCatalog,
  defineJob,
  resolveJob,
  backoffDelayMs,
  InvalidPayloadError,
  type Catalog,
  type EventopsCatalog,
  type JobSpec,
  type Backoff,
  type QueueName,
  type JobName,
  type AnyJobName,
  type PayloadOf,
  type PayloadOfJob,
} from './catalog.js';
export type {
  QueueDriver,
  Handler,
  Handlers,
  JobContext,
  EnqueueItem,
  EnqueueOptions,
  EnqueueResult,
  JobFailure,
  JobInfo,
  JobStatus,
  QueueStats,
  WorkOptions,
} from './driver.js';
export { createBullmqDriver, bullmqJobId, type BullmqDriverOptions } from './bullmq-driver.js';
export { createEmbeddedDriver, type EmbeddedDriverOptions } from './embedded-driver.js';
export { sweep, startSweeper, type SweepOptions, type SweeperOptions } from './sweeper.js';
