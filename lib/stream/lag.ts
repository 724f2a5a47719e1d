/**
 * The one consumer-lag calculation in fleetgrid: records behind per group = the high
 * watermark minus the committed offset, summed over the group's partitions. A partition
 * without a commit counts from its low watermark (the services read from the beginning),
 * so a group that has not committed yet shows its whole backlog rather than none.
 * `computeLag` is pure; `fetchGroupLag` does the admin calls.
 */
import type { KafkaAdmin } from '../kafka/index.ts';

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
}

export interface GroupLag {
  groupId: string;
  /** Sum over partitions; a partition without a committed offset counts from its start offset. */
  lag: number;
  partitions: PartitionLag[];
  error?: string;
}

export interface CommittedTopic {
  topic: string;
  partitions: { partition: number; offset: string }[];
}

export type Watermarks = Map<string, { partition: number; high: string; low: string }[]>;

/**
 * Lag of one group. `committed` is what the group committed ('-1' = none yet), per topic;
 * `watermarks` the high and low watermark of every partition of those topics.
 */
export function computeLag(
  groupId: string,
  committed: readonly CommittedTopic[],
  watermarks: Watermarks,
): GroupLag {
  const partitions: PartitionLag[] = [];
  for (const { topic, partitions: parts } of committed) {
    for (const mark of watermarks.get(topic) ?? []) {
      const done = parts.find((p) => p.partition === mark.partition);
      const offset = done === undefined ? -1 : Number(done.offset);
      const end = Number(mark.high);
      const from = offset >= 0 ? offset : Number(mark.low);
      partitions.push({
        topic,
        partition: mark.partition,
        committed: offset >= 0 ? offset : null,
        end,
        lag: Math.max(0, end - from),
      });
    }
  }
  partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return { groupId, lag: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
}

export interface WatchedGroup {
  groupId: string;
  /** The topics the group consumes; undefined: every topic it has committed on. */
  topics?: readonly string[];
  /**
   * Count only the topics the group has committed on (a topic it does not read would
   * otherwise count as all backlog): for groups whose topics are not known.
   */
  committedTopicsOnly?: boolean;
}

/** Lag of each group; a group whose offsets cannot be read reports the error instead. */
export async function fetchGroupLag(admin: KafkaAdmin, groups: readonly WatchedGroup[]): Promise<GroupLag[]> {
  const watermarks: Watermarks = new Map();
  const loading = new Map<string, Promise<void>>();
  const marksOf = (topic: string) => {
    let load = loading.get(topic);
    if (!load) {
      load = admin.fetchTopicOffsets(topic).then((offsets) => {
        watermarks.set(topic, offsets);
      });
      loading.set(topic, load);
    }
    return load;
  };
  return Promise.all(
    groups.map(async (group): Promise<GroupLag> => {
      try {
        let committed = await admin.fetchCommittedOffsets(
          group.groupId,
          group.topics ? [...group.topics] : undefined,
        );
        if (group.committedTopicsOnly || !group.topics) {
          committed = committed.filter((t) => t.partitions.some((p) => Number(p.offset) >= 0));
        }
        await Promise.all(committed.map((t) => marksOf(t.topic)));
        return computeLag(group.groupId, committed, watermarks);
      } catch (error) {
        return {
          groupId: group.groupId,
          lag: 0,
          partitions: [],
          error: error instanceof Error ? error.message : String(error),
        };
      }
    }),
  );
}
