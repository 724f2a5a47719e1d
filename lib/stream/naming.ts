/**
 * The one naming rule for what a pipeline shares a cluster with: topics, registry
 * subjects (through the topic names) and consumer groups all carry TOPIC_PREFIX, so
 * pipelines under different prefixes (tests, staging beside production, a load test
 * beside a running demo) never read each other's topics or join each other's groups.
 */

/** The consumer groups of the pipeline, before the prefix. */
export const GROUPS = {
  processors: 'fleetgrid-processors',
  sink: 'fleetgrid-sink-clickhouse',
  /** The sink's registry feed (sinks/dims-feed.ts): the CDC topics into the dimension tables. */
  sinkDims: 'fleetgrid-sink-dims',
  /** The notifier (notify/): telemetry.alerts to Alertmanager. */
  notify: 'fleetgrid-notify',
} as const;

export type PipelineGroup = keyof typeof GROUPS;

/**
 * Groups whose every member must see every record (the query API's live stream: each API
 * process pushes all events to its own clients). Each member joins a group of its own,
 * `<base>.<instance>`, never commits, and starts at the end of the log; Kafka forgets an
 * empty group without offsets, so these leave nothing behind.
 */
export const FAN_OUT_GROUPS = {
  queryStream: 'fleetgrid-query-stream',
} as const;

/** The group id of one fan-out member: `instance` is e.g. host and pid. */
export function fanOutGroupId(prefix: string, base: string, instance: string): string {
  return consumerGroupId(prefix, `${base}.${instance.replace(/[^A-Za-z0-9._-]/g, '_')}`);
}

/** A name under a prefix (the prefix is validated where it is read, lib/config.ts). */
export function prefixed(prefix: string, name: string): string {
  return `${prefix}${name}`;
}

/** The consumer group id of a group named `base` (e.g. GROUPS.sink) under `prefix`. */
export function consumerGroupId(prefix: string, base: string): string {
  return prefixed(prefix, base);
}

/** Every pipeline group id under `prefix`. */
export function pipelineGroupIds(prefix: string): Record<PipelineGroup, string> {
  return {
    processors: consumerGroupId(prefix, GROUPS.processors),
    sink: consumerGroupId(prefix, GROUPS.sink),
    sinkDims: consumerGroupId(prefix, GROUPS.sinkDims),
    notify: consumerGroupId(prefix, GROUPS.notify),
  };
}

/**
 * The compacted changelog topic holding the checkpoints of `inputTopic` for the consumer
 * group `groupBase` (e.g. GROUPS.processors) under `prefix`: one topic per input topic,
 * checkpoint of input partition p on changelog partition p. Named after the group, so a
 * second group reading the same input keeps state of its own.
 */
export function changelogTopic(prefix: string, groupBase: string, inputTopicBase: string): string {
  return prefixed(prefix, `${groupBase}-${inputTopicBase}-changelog`);
}

/**
 * The transactional id of the producer that commits the outputs, changelog record and
 * offset of one input partition for one (prefixed) group. One id per partition, stable
 * across members: a new owner that claims the id fences every older producer of it.
 */
export function transactionalId(groupId: string, topic: string, partition: number): string {
  return `${groupId}:${topic}:${partition}`;
}
