/**
 * The pure core of the stateful processors (docs/design.md §3): one PartitionCore per input
 * topic-partition turns decoded, validated raw events — in offset order — into window
 * revisions, alert transitions and device-state changes. No I/O, no timers, no wall
 * clock: processing time only enters through `apply(event, nowMs)` and `onTimer(nowMs)`,
 * so the same event sequence always yields the same outputs (the runner replays after a
 * crash and downstream deduplicates identical records). All state is in `snapshot()`,
 * which the runner checkpoints together with the input offsets.
 *
 * Semantics (details and formulas in docs/processors-core.md):
 * - Stream time = max event ts applied so far, or further advanced by the idle timer.
 * - Tumbling, epoch-aligned windows [start, start + size) per device; a window is emitted
 *   (revision 0) once stream time >= end + grace. A distinct event for an already
 *   emitted window re-emits it at once with revision + 1.
 * - An event with ts < streamTime - maxLateness is rejected with TOO_LATE and changes
 *   nothing; emitted windows are retained until end <= streamTime - maxLateness.
 * - Duplicates (same device and seq in the same window: a resend repeats eventId, seq
 *   and ts) change nothing and emit nothing.
 * - Idle: if no event was applied for idleTimeoutMs of processing time, each onTimer
 *   sets streamTime = max(streamTime, min(streamTimeWhenIdleBegan + idle time elapsed,
 *   maxEventTs + max(size + grace, heartbeat silence))): event time keeps flowing with
 *   the wall clock, which closes the open windows and lets heartbeat_lost fire on a
 *   silent partition, but not further, so a long pause cannot make later events late.
 *   The runner calls onTimer only for partitions that are caught up and not paused: a
 *   partition blocked by backpressure or lag is not idle.
 */
import type { FleetgridError } from '../../lib/errors.ts';
import type { Alert, DeviceState, RawEvent, WindowAggregate } from '../../schemas/types.ts';
import type { CoreJoin } from './join.ts';
import { createPartitionCoreImpl, snapshotRegistryVersion } from './partition-core.ts';

export type { CoreJoin, UnknownDevicePolicy } from './join.ts';
export { UNKNOWN_DEVICE_POLICIES } from './join.ts';

export type { CoreConfig } from './config.ts';
export { coreConfigSchema, DEFAULT_CORE_CONFIG, parseCoreConfig } from './config.ts';

import type { CoreConfig } from './config.ts';

export interface RejectedEvent {
  event: RawEvent;
  error: FleetgridError;
}

export interface CoreOutput {
  /** Window revisions emitted by this call, in order (a window's revisions in increasing order). */
  aggregates: WindowAggregate[];
  /** RAISED / RESOLVED transitions, in order. */
  alerts: Alert[];
  /** One entry per device whose state changed in this call (the newest state). */
  deviceStates: DeviceState[];
  /** Events refused (TOO_LATE, UNKNOWN_DEVICE, a kind mismatch): the runner dead-letters their original bytes. */
  rejected: RejectedEvent[];
}

export interface CoreStats {
  /** Windows not yet emitted. */
  openWindows: number;
  /** Emitted windows kept for late events (until maxLateness). */
  retainedWindows: number;
  devices: number;
  /** Seq ranges held by all windows (the dedup memory; one range per run of consecutive seqs). */
  dedupEntries: number;
  /** Counters since this core was created (not checkpointed): for metrics. */
  applied: number;
  duplicates: number;
  /** Distinct events that landed in an already emitted window (each produced a revision). */
  late: number;
  tooLate: number;
  /** Events of devices the registry did not know at their time (quarantined or accepted, per policy). */
  unknownDevices: number;
  /** Events of devices decommissioned at their time: ignored, not dead-lettered. */
  decommissionedIgnored: number;
  /** Events of devices in maintenance at their time: windows and state as usual, no alert transitions. */
  maintenanceSuppressed: number;
  /**
   * Registry changes whose change point was already behind this partition's stream time
   * when the core first saw them: the live run and a replay may differ for those events.
   */
  lateRegistryChanges: number;
}

export interface PartitionCore {
  /**
   * One decoded, validated event of this topic-partition, in offset order. `nowMs` is
   * the processing time (wall clock of the runner); pass it so idleness is measured from
   * the last event. Without it, idleness is measured from the first onTimer after it.
   */
  apply(event: RawEvent, nowMs?: number): CoreOutput;
  /** Wall-clock timer tick from the runner: advances stream time of an idle partition. nowMs = processing time. */
  onTimer(nowMs: number): CoreOutput;
  /**
   * The partition cannot be heard right now (input unknown, paused, behind its log end):
   * silence counts from `nowMs` on, not from the last event, so the time the input was
   * unknown never turns into an idle advance once it is known again.
   */
  holdIdle(nowMs: number): void;
  /** Current stream time, epoch ms (0 before the first event). */
  readonly streamTime: number;
  /** JSON-safe, compact snapshot of ALL state (windows, dedup, alert machines, device states). */
  snapshot(): unknown;
  /** Sizes and counters for metrics; walks every window (O(windows)): call it per scrape, not per event. */
  stats(): CoreStats;
}

/**
 * Creates the core of one partition, empty or from a snapshot taken by `snapshot()`
 * (possibly by another process). Throws INVALID_ARGUMENT on a snapshot it cannot read.
 */
export function createPartitionCore(config: CoreConfig, restored?: unknown, join?: CoreJoin): PartitionCore {
  return createPartitionCoreImpl(config, restored, join);
}

/**
 * The registry version (table.maxVersion()) a snapshot was taken at: the runner must have
 * folded the registry at least this far before restoring it. 0 for snapshots without one
 * (taken without a join, or by an older version).
 */
export function requiredRegistryVersion(snapshot: unknown): number {
  return snapshotRegistryVersion(snapshot);
}
