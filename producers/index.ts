/**
 * The producers component: simulated trucks, wind turbines and solar arrays streaming
 * Avro telemetry into Kafka (docs/design.md §1, issue 3).
 *
 * Pure parts (no I/O, usable from any test): the device models and the documented power
 * curve, the seeded fleet with fault injection, and the manifest builder that tells
 * downstream tests exactly what was sent. The runner does the I/O: encoding, batching,
 * bounded in-flight sends with backoff, metrics.
 */
export {
  parseDuration,
  parseSimulatorConfig,
  parseSpeed,
  parseTime,
  type SimulatorConfig,
  type SimulatorConfigInput,
  simulatorConfigSchema,
} from './config.ts';
export { createMessageEncoder, type EncoderSchemas, type MessageEncoder } from './encoder.ts';
export {
  type FaultCounts,
  type FaultSpec,
  formatFaultSpec,
  NO_FAULTS,
  parseFaultSpec,
  UNKNOWN_SCHEMA_ID_BASE,
} from './faults.ts';
export {
  createFleet,
  type DeviceInfo,
  deviceIdOf,
  type Fleet,
  type FleetOptions,
  type FleetSite,
  fleetSites,
} from './fleet.ts';
export {
  createManifestBuilder,
  type DeviceManifest,
  type FieldSummary,
  type Manifest,
  type ManifestBuilder,
  type ManifestOptions,
  manifestOfEvents,
  manifestToJson,
  NUMERIC_FIELDS,
  type WindowManifest,
} from './manifest.ts';
export * as powerCurve from '../domain/power-curve.ts';
export { expectedPowerKw } from '../domain/power-curve.ts';
export {
  createFleetSimulator,
  createSimulatorDeps,
  defaultFromMs,
  type FleetSimulator,
  type FleetSimulatorDeps,
  produceEvents,
  RAW_RECORDS,
  type SimulationResult,
  type SimulatorStatus,
} from './runner.ts';
export type { DeliveryFault, MessageClass, OutboundMessage, PoisonFlavor } from './types.ts';
