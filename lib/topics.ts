/**
 * Topics as code: the DESIGN §3 topic table. Created idempotently at start by whichever
 * service comes up first; an existing topic is left as it is (changing partition counts
 * would move devices between partitions and their state).
 */
import type { KafkaAdmin } from './kafka.ts';
import { toKafkaError } from './kafka.ts';

export const TOPIC_KEYS = [
  'truck',
  'turbine',
  'solar',
  'aggregates',
  'alerts',
  'deviceState',
  'dlq',
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
};

const DAY_MS = 86_400_000;

export interface TopicSpec {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

/** Topic names, optionally prefixed (tests use a unique prefix per test; see TOPIC_PREFIX). */
export function topicNames(prefix = ''): TopicNames {
  return Object.fromEntries(TOPIC_KEYS.map((key) => [key, `${prefix}${BASE_NAMES[key]}`])) as TopicNames;
}

export function topicSpecs(prefix = '', partitions = 6): TopicSpec[] {
  const names = topicNames(prefix);
  const retention = (days: number) => ({ 'cleanup.policy': 'delete', 'retention.ms': String(days * DAY_MS) });
  return [
    { name: names.truck, partitions, config: retention(7) },
    { name: names.turbine, partitions, config: retention(7) },
    { name: names.solar, partitions, config: retention(7) },
    { name: names.aggregates, partitions, config: retention(30) },
    { name: names.alerts, partitions, config: retention(90) },
    // The CQRS entity view: compaction keeps the newest state of every device forever.
    {
      name: names.deviceState,
      partitions,
      config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000', 'segment.ms': String(DAY_MS) },
    },
    { name: names.dlq, partitions: Math.max(1, Math.ceil(partitions / 2)), config: retention(30) },
  ];
}

/** Creates the topics that do not exist yet. Returns the names it created. */
export async function ensureTopics(admin: KafkaAdmin, specs: TopicSpec[]): Promise<string[]> {
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.name));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor: -1,
        configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
      })),
    });
    await waitForLeaders(
      admin,
      missing.map((spec) => spec.name),
    );
    return missing.map((spec) => spec.name);
  } catch (error) {
    // Two services starting together may race to create the same topic: that is fine.
    if (error instanceof Error && /already exists/i.test(error.message)) return [];
    throw toKafkaError('create topics', error);
  }
}

/**
 * A created topic can take a moment before every partition has a leader that knows it;
 * producing or fetching earlier fails with "does not host this topic-partition". Waiting
 * here keeps that start-up race out of every caller.
 */
async function waitForLeaders(admin: KafkaAdmin, topics: string[], timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
      const ready = metadata.every(
        (topic) =>
          topic.partitions.length > 0 && topic.partitions.every((partition) => partition.leader >= 0),
      );
      if (ready) return;
    } catch {
      // Metadata for a topic created a moment ago may not be served yet.
    }
    if (Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
