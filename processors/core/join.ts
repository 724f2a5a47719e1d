/**
 * The contract between the processors' partition cores and the fleet registry (issue 13,
 * docs/registry.md "Stream–table join"). The runner holds one registry table per process,
 * folded from the compacted CDC topics before any telemetry is processed and kept current
 * while it runs (processors/runner/global-table.ts); every partition core of the process
 * reads the same table through this join. Types only: the core stays free of I/O and of the
 * registry's PostgreSQL side.
 *
 * Determinism: a registry change applies to a device's events from its change point on,
 * an event time (the change's commit time + changeLeadMs, registry/table.ts), never from
 * the moment the record happened to reach the processor, so replaying the same log over the
 * same registry history gives the same outputs.
 */
import type { RegistryTable } from '../../registry/table.ts';

/** What the core does with telemetry of a device the registry does not know (at the event's time). */
export type UnknownDevicePolicy = 'quarantine' | 'accept';

export const UNKNOWN_DEVICE_POLICIES: readonly UnknownDevicePolicy[] = ['quarantine', 'accept'];

export interface CoreJoin {
  /** The process's registry table, shared by all its partition cores; only the runner applies records to it. */
  readonly table: RegistryTable;
  /** quarantine: dead-lettered with UNKNOWN_DEVICE and counted; accept: processed with the event's own siteId. */
  readonly unknownDevice: UnknownDevicePolicy;
}
