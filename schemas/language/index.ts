// The v1 language: schemas and types of every kind, in one place.
import { Actuator } from './actuator.js';
import { Event } from './event.js';
import { Pipeline } from './pipeline.js';
import { Trigger } from './trigger.js';

export * from './common.js';
export * from './actuator.js';
export * from './pipeline.js';
export * from './trigger.js';
export * from './event.js';
export * from './notify.js';
export { parseDuration } from './duration.js';
export { parseCpu, parseMemory } from './resources.js';

export const Kinds = ['Actuator', 'Pipeline', 'Trigger', 'Event'] as const;
export type Kind = (typeof Kinds)[number];

/** JSON Schema of each kind, as published in `schemas/<kind>.schema.json`. */
export const KindSchemas = { Actuator, Pipeline, Trigger, Event } as const;
