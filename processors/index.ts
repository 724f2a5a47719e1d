/**
 * The stateful processors (DESIGN §1): `createProcessor` runs the pure cores of
 * processors/core against Kafka and Redis, crash-safe and backpressured. See
 * processors/runner/processor.ts for how, and docs/processors.md for why.
 */
export type { ProcessorConfig, ProcessorConfigInput } from './config.ts';
export { parseDuration, parseProcessorConfig, processorConfigSchema } from './config.ts';
export { checkpointKey, decodeCheckpoint, encodeCheckpoint } from './runner/checkpoint.ts';
export type { Processor, ProcessorDeps, ProcessorRunConfig, ProcessorStats } from './runner/processor.ts';
export { createProcessor } from './runner/processor.ts';
