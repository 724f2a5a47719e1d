/**
 * The stateful processors (docs/design.md §1): `createProcessor` runs the pure cores of
 * processors/core against Kafka (state in changelogs, outputs in transactions) with a Redis
 * read model, crash-safe and backpressured. See
 * processors/runner/processor.ts for how, and docs/processors.md for why.
 */
export type { ProcessorConfig, ProcessorConfigInput } from './config.ts';
export { parseDuration, parseProcessorConfig, processorConfigSchema } from './config.ts';
export { decodeCheckpoint, encodeCheckpoint } from './runner/changelog.ts';
export type { Processor, ProcessorDeps, ProcessorRunConfig, ProcessorStats } from './runner/processor.ts';
export { createProcessor } from './runner/processor.ts';
// The intake path (decode, validate, apply to a core, route the outputs) and the router's
// shape: `fleetgrid replay --derived` (sinks/replay-derived.ts) runs the cores over the raw
// log exactly as the runner does.
export type { OutputRouter, SourceRecord } from './runner/outputs.ts';
export { applyRecord, decodeRecord } from './runner/records.ts';
