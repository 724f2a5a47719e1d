/**
 * The runner's side of the stream–table join (docs/registry.md "Stream–table join"): the
 * process's registry table (global-table.ts) opened and restored before any telemetry is
 * consumed, the CoreJoin every partition core of the process reads, the version wait of
 * claimed checkpoints, and what is observed about it (metrics.ts createJoinMetrics, the
 * JSON /health). With `registryJoin: false` it does nothing and the cores get no join.
 */
import { performance } from 'node:perf_hooks';
import type { FleetgridError } from '../../lib/errors.ts';
import type { KafkaClient } from '../../lib/kafka/index.ts';
import type { Logger } from '../../lib/log.ts';
import type { Registry } from '../../lib/metrics.ts';
import type { TopicPolicy } from '../../lib/topics.ts';
import type { RegistryChangeSeen } from '../../registry/follower.ts';
import type { ProcessorConfig } from '../config.ts';
import { type CoreJoin, type CoreStats, type PartitionCore, requiredRegistryVersion } from '../core/index.ts';
import type { ClaimedPartition } from './claims.ts';
import { type GlobalRegistryTable, type GlobalTableHealth, openGlobalTable } from './global-table.ts';
import { createJoinMetrics, JOIN_OUTCOMES, type JoinMetrics } from './metrics.ts';

type JoinCounts = { -readonly [K in keyof typeof JOIN_OUTCOMES]: number };

export interface RegistryJoinHealth {
  enabled: boolean;
  unknownDevicePolicy: ProcessorConfig['unknownDevice'];
  changeLeadMs: number;
  /** The table; null until restored (or with the join off). */
  table: GlobalTableHealth | null;
  /** Claimed partitions waiting for their checkpoint's registry version. */
  waitingPartitions: number;
  /** What the cores of this process counted since it started (owned partitions, past and present). */
  events: JoinCounts;
}

export interface RegistryJoin {
  /** The join the cores get; undefined with the join off (and before open()). */
  readonly join: CoreJoin | undefined;
  /** Partitions waiting for a version: the processor is not ready meanwhile. */
  readonly waiting: number;
  /** Opens and restores the table (the caller waits for Kafka around it). */
  open(): Promise<void>;
  /** A claim's restored checkpoints: resolves once the table holds their registry versions. */
  awaitCheckpoints(claimed: readonly ClaimedPartition[]): Promise<void>;
  /** Adds what each core counted since the last call to the join's counters. */
  observe(cores: Iterable<PartitionCore>): void;
  health(): RegistryJoinHealth;
  stop(): Promise<void>;
}

export function createRegistryJoin(
  config: ProcessorConfig & { topicPrefix: string },
  deps: {
    kafka: KafkaClient;
    log: Logger;
    metrics: Registry;
    topicPolicy: TopicPolicy;
    /** The process's lifetime: shutdown ends a restore or a version wait. */
    signal: AbortSignal;
    groupId: string;
    /** Every registry record folded after restore (tests measure commit → applied with it). */
    onChange?: (change: RegistryChangeSeen) => void;
    /** Opens the table; the unit tests give a stand-in. */
    openTable?: typeof openGlobalTable;
  },
): RegistryJoin {
  let global: GlobalRegistryTable | undefined;
  let join: CoreJoin | undefined;
  let waiting = 0;
  const seen = new WeakMap<PartitionCore, JoinCounts>();
  const totals: JoinCounts = {
    unknownDevices: 0,
    decommissionedIgnored: 0,
    maintenanceSuppressed: 0,
    lateRegistryChanges: 0,
  };
  const metrics: JoinMetrics | undefined = config.registryJoin
    ? createJoinMetrics(deps.metrics, {
        rows: () => (global ? global.health().rows : {}),
        maxVersion: () => global?.table.maxVersion() ?? 0,
        lagRecords: () => global?.lag() ?? 0,
        restored: () => global?.restored ?? false,
        waitingPartitions: () => waiting,
      })
    : undefined;

  function onChange(change: RegistryChangeSeen, restoring: boolean): void {
    metrics?.registryRecords.inc({ outcome: change.result.outcome });
    if (change.result.outcome === 'invalid')
      deps.log.warn(
        { entity: change.entity, problem: change.result.problem },
        'invalid registry record ignored',
      );
    if (restoring) return;
    if (change.result.outcome === 'upserted' && change.sourceTsMs !== undefined)
      metrics?.applyDelay.observe(Math.max(0, change.receivedAtMs - change.sourceTsMs) / 1000);
    deps.onChange?.(change);
  }

  return {
    get join() {
      return join;
    },
    get waiting() {
      return waiting;
    },
    async open() {
      if (!config.registryJoin || global) return;
      global = await (deps.openTable ?? openGlobalTable)(
        {
          topicPrefix: config.topicPrefix,
          groupId: deps.groupId,
          changeLeadMs: config.changeLeadMs,
          restoreTimeoutMs: config.registryRestoreTimeoutMs,
          topicPolicy: deps.topicPolicy,
        },
        { kafka: deps.kafka, log: deps.log, signal: deps.signal, onChange },
      );
      join = { table: global.table, unknownDevice: config.unknownDevice };
    },
    async awaitCheckpoints(claimed) {
      if (!global) return;
      const required = Math.max(0, ...claimed.map((c) => requiredRegistryVersion(c.checkpoint?.snapshot)));
      if (global.table.maxVersion() >= required) return;
      const partitions = claimed.map((c) => `${c.ref.topic}:${c.ref.partition}`);
      waiting += claimed.length;
      const started = performance.now();
      deps.log.info(
        { partitions, required, held: global.table.maxVersion() },
        'waiting for the registry version of restored checkpoints',
      );
      try {
        const outcome = await global.waitForVersion(required, config.registryRestoreTimeoutMs);
        if (outcome === 'log-end')
          deps.log.warn(
            { partitions, required, held: global.table.maxVersion() },
            'the registry topics end below the version of a restored checkpoint (rows deleted and compacted away): continuing with the whole registry',
          );
        else
          deps.log.info(
            { partitions, ms: Math.round(performance.now() - started) },
            'registry version reached',
          );
      } catch (error) {
        // The claim fails (ownership.ts: the next batch claims again); its producers go.
        await Promise.all(claimed.map((c) => c.producer.disconnect().catch(() => {})));
        deps.log.error({ err: error as FleetgridError, partitions }, 'registry version wait failed');
        throw error;
      } finally {
        waiting -= claimed.length;
      }
    },
    observe(cores) {
      if (!metrics) return;
      for (const core of cores) {
        const stats: Partial<CoreStats> = core.stats();
        const last = seen.get(core);
        const now = {} as JoinCounts;
        for (const key of Object.keys(JOIN_OUTCOMES) as (keyof JoinCounts)[]) {
          now[key] = stats[key] ?? 0;
          const delta = now[key] - (last?.[key] ?? 0);
          if (delta > 0) {
            totals[key] += delta;
            metrics.joinEvents.inc({ outcome: JOIN_OUTCOMES[key] }, delta);
          }
        }
        seen.set(core, now);
      }
    },
    health: () => ({
      enabled: config.registryJoin,
      unknownDevicePolicy: config.unknownDevice,
      changeLeadMs: config.changeLeadMs,
      table: global?.restored ? global.health() : null,
      waitingPartitions: waiting,
      events: { ...totals },
    }),
    async stop() {
      await global?.stop().catch(() => {});
    },
  };
}
