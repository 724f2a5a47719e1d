/**
 * The registry's CDC topics as code (docs/registry.md "Topics"): one compacted topic per
 * table, keyed by the row id, fed by Debezium. One partition each: master data is small,
 * and a single partition is one total order of a table's changes (commit order), which is
 * what lets a processor apply a change at a defined point of its stream (issue 13, part 2).
 */
import {
  DEFAULT_TOPIC_POLICY,
  rawRetentionMs,
  type TopicPolicy,
  type TopicSpec,
  withReplication,
} from '../lib/topics.ts';
import { ENTITY_NAMES, type EntityName, TABLES } from './model.ts';

const DAY_MS = 86_400_000;

/** `registry.sites`, `registry.devices`, `registry.drivers`, `registry.rules`, with TOPIC_PREFIX. */
export function registryTopicNames(prefix = ''): Record<EntityName, string> {
  return Object.fromEntries(ENTITY_NAMES.map((name) => [name, `${prefix}registry.${name}`])) as Record<
    EntityName,
    string
  >;
}

/** The entity a registry topic carries; undefined for any other topic. */
export function entityOfTopic(topic: string, prefix = ''): EntityName | undefined {
  return ENTITY_NAMES.find((name) => topic === `${prefix}registry.${name}`);
}

/** The table (registry schema) behind each topic: alert_rules streams into registry.rules. */
export function tableOfEntity(name: EntityName): string {
  return TABLES[name].table;
}

/** Kafka's largest duration (Long.MAX_VALUE ms): compaction never reaches a record. */
const NEVER_COMPACT_MS = '9223372036854775807';

/**
 * The registry topics as whoever creates them first makes them (`registry cdc up`, a
 * processor, the notifier or the sink's feed at start: every creator passes its policy here,
 * and the connector creates none of them). Replication follows the policy like the telemetry
 * topics'; so does the history kept, from the raw topics' retention (docs/registry.md
 * "History for replays").
 */
export function registryTopicSpecs(prefix = '', policy: TopicPolicy = DEFAULT_TOPIC_POLICY): TopicSpec[] {
  const names = registryTopicNames(prefix);
  // Compaction keeps only the newest record of an id, but a replay of raw telemetry needs the
  // version in force at each event's time: every version stays uncompacted for as long as
  // the raw topics keep events (for ever when they keep them for ever).
  const rawRetention = rawRetentionMs(policy);
  const history = rawRetention === undefined ? NEVER_COMPACT_MS : String(rawRetention);
  return withReplication(
    ENTITY_NAMES.map((name) => ({
      name: names[name],
      partitions: 1,
      config: {
        // Compaction then keeps the newest record of every id for ever; a delete's tombstone
        // stays a day after that, long enough for any reader that was not far behind to see it.
        'cleanup.policy': 'compact',
        'min.compaction.lag.ms': history,
        'delete.retention.ms': String(DAY_MS),
        'segment.ms': String(DAY_MS),
      },
    })),
    policy,
  );
}

/**
 * The registry topics (of `existing`, their current min.compaction.lag.ms) that keep less
 * history than `registryTopicSpecs` asks: an existing topic is never changed at start, so
 * a topic created under an older rule (60 s) or another policy is reported instead.
 */
export function registryHistoryShortfalls(
  specs: readonly TopicSpec[],
  existing: ReadonlyMap<string, string | null>,
): { topic: string; minCompactionLagMs: string | null; wanted: string }[] {
  const out: { topic: string; minCompactionLagMs: string | null; wanted: string }[] = [];
  for (const spec of specs) {
    const wanted = spec.config['min.compaction.lag.ms'];
    if (wanted === undefined || !existing.has(spec.name)) continue;
    const held = existing.get(spec.name) ?? null;
    if (held === null || BigInt(held) < BigInt(wanted))
      out.push({ topic: spec.name, minCompactionLagMs: held, wanted });
  }
  return out;
}
