/**
 * The registry's CDC topics as code (docs/registry.md "Topics"): one compacted topic per
 * table, keyed by the row id, fed by Debezium. One partition each: master data is small,
 * and a single partition is one total order of a table's changes (commit order), which is
 * what lets a processor apply a change at a defined point of its stream (issue 13, part 2).
 */
import type { TopicSpec } from '../lib/topics.ts';
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

export function registryTopicSpecs(prefix = ''): TopicSpec[] {
  const names = registryTopicNames(prefix);
  return ENTITY_NAMES.map((name) => ({
    name: names[name],
    partitions: 1,
    config: {
      // Compaction keeps the newest record of every id forever; a delete's tombstone stays
      // for a day, long enough for any reader that was not far behind to see it.
      'cleanup.policy': 'compact',
      'min.compaction.lag.ms': '60000',
      'delete.retention.ms': String(DAY_MS),
      'segment.ms': String(DAY_MS),
    },
  }));
}
