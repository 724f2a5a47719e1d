/**
 * Topics as code: the docs/design.md §3 topic table. Created idempotently at start by whichever
 * service comes up first; an existing topic is left as it is (changing partition counts
 * would move devices between partitions and their state).
 */
import type { KafkaAdmin } from './kafka/index.ts';
import { prefixed } from './stream/naming.ts';

export const TOPIC_KEYS = [
  'truck',
  'turbine',
  'solar',
  'aggregates',
  'alerts',
  'deviceState',
  'dlq',
  'commands',
] as const;
export type TopicKey = (typeof TOPIC_KEYS)[number];
export type TopicNames = Record<TopicKey, string>;

export const RAW_TOPIC_KEYS = ['truck', 'turbine', 'solar'] as const satisfies readonly TopicKey[];
export type DeviceKind = (typeof RAW_TOPIC_KEYS)[number];

const BASE_NAMES: TopicNames = {
  truck: 'telemetry.truck',
  turbine: 'telemetry.turbine',
  solar: 'telemetry.solar',
  aggregates: 'telemetry.aggregates',
  alerts: 'telemetry.alerts',
  deviceState: 'telemetry.device-state',
  dlq: 'telemetry.dlq',
  // Operators' alert commands: not telemetry, hence not under telemetry.* (docs/architecture.md).
  commands: 'alerts.commands',
};

const DAY_MS = 86_400_000;

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Copies of each partition; absent: the broker's default.replication.factor. */
  replicationFactor?: number;
  config: Record<string, string>;
}

/**
 * How long the log keeps what. `development`: raw events a week (a laptop's disk).
 * `production`: the log is the source of truth, so raw events and alerts are kept for ever,
 * compressed with zstd by the broker (docs/sizing.md gives the bytes per event it costs);
 * the derived aggregates stay replayable from the raw log and keep 90 days.
 */
export const RETENTION_PROFILES = ['development', 'production'] as const;
export type RetentionProfile = (typeof RETENTION_PROFILES)[number];

/**
 * Replication and retention for the topics a service creates, from configuration
 * (KAFKA_TOPIC_REPLICATION_FACTOR, KAFKA_TOPIC_MIN_INSYNC_REPLICAS, TOPIC_RETENTION_PROFILE).
 * Unset replication settings leave the broker's defaults, which the local stack sets per
 * cluster size (infra/local/kraft.ts: 1/1 on one broker, 3/2 on three).
 */
export interface TopicPolicy {
  replicationFactor?: number | undefined;
  minInsyncReplicas?: number | undefined;
  retention: RetentionProfile;
}

export const DEFAULT_TOPIC_POLICY: TopicPolicy = { retention: 'development' };

const KEEP_FOREVER = '-1';

/** Applies a policy's replication settings to specs (the registry's CDC topics use it too). */
export function withReplication(specs: TopicSpec[], policy: TopicPolicy): TopicSpec[] {
  return specs.map((spec) => ({
    ...spec,
    ...(policy.replicationFactor === undefined ? {} : { replicationFactor: policy.replicationFactor }),
    config: {
      ...spec.config,
      ...(policy.minInsyncReplicas === undefined
        ? {}
        : { 'min.insync.replicas': String(policy.minInsyncReplicas) }),
    },
  }));
}

/** Topic names, optionally prefixed (tests use a unique prefix per test; see TOPIC_PREFIX). */
export function topicNames(prefix = ''): TopicNames {
  return Object.fromEntries(TOPIC_KEYS.map((key) => [key, prefixed(prefix, BASE_NAMES[key])])) as TopicNames;
}

/**
 * How long the raw telemetry topics keep events under `policy`: undefined for ever. The
 * registry's CDC topics keep every version of a row at least this long (registry/topics.ts),
 * so a replay of any raw event still finds the registry as it was at the event's time.
 */
export function rawRetentionMs(policy: TopicPolicy): number | undefined {
  return policy.retention === 'production' ? undefined : 7 * DAY_MS;
}

export function topicSpecs(
  prefix = '',
  partitions = 6,
  policy: TopicPolicy = DEFAULT_TOPIC_POLICY,
): TopicSpec[] {
  const names = topicNames(prefix);
  const production = policy.retention === 'production';
  const keep = (days: number) => ({ 'cleanup.policy': 'delete', 'retention.ms': String(days * DAY_MS) });
  const keepForever = {
    'cleanup.policy': 'delete',
    'retention.ms': KEEP_FOREVER,
    'retention.bytes': KEEP_FOREVER,
  };
  // The broker recompresses with zstd whatever the producer sent (kafkajs has no zstd codec).
  const zstd = { 'compression.type': 'zstd' };
  const rawRetention = rawRetentionMs(policy);
  const raw =
    rawRetention === undefined
      ? { ...keepForever, ...zstd }
      : { 'cleanup.policy': 'delete', 'retention.ms': String(rawRetention) };
  return withReplication(
    [
      { name: names.truck, partitions, config: raw },
      { name: names.turbine, partitions, config: raw },
      { name: names.solar, partitions, config: raw },
      { name: names.aggregates, partitions, config: production ? { ...keep(90), ...zstd } : keep(30) },
      { name: names.alerts, partitions, config: production ? { ...keepForever, ...zstd } : keep(90) },
      // The CQRS entity view: compaction keeps the newest state of every device forever.
      {
        name: names.deviceState,
        partitions,
        config: {
          'cleanup.policy': 'compact',
          'min.compaction.lag.ms': '60000',
          'segment.ms': String(DAY_MS),
        },
      },
      { name: names.dlq, partitions: Math.max(1, Math.ceil(partitions / 2)), config: keep(30) },
      // The audit trail of operators' commands: small, and the only record of who did what, so kept.
      { name: names.commands, partitions: Math.min(partitions, 3), config: keepForever },
    ],
    policy,
  );
}

/** Creates the topics that do not exist yet. Returns the names it created. */
export async function ensureTopics(admin: KafkaAdmin, specs: TopicSpec[]): Promise<string[]> {
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.name));
    if (missing.length === 0) return [];
    await admin.createTopics(
      missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor: spec.replicationFactor ?? -1,
        configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
      })),
    );
    return missing.map((spec) => spec.name);
  } catch (error) {
    // Two services starting together may race to create the same topic: that is fine.
    if (error instanceof Error && /already exists/i.test(error.message)) return [];
    // The admin maps client failures onto FleetgridError (retriable when the broker is away).
    throw error;
  }
}
