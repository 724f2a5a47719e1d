/**
 * Waiting until newly created topics can be used. Under KRaft the controller answers
 * CreateTopics before every broker has applied the new metadata, so for a moment a broker
 * says UNKNOWN_TOPIC_OR_PARTITION, or lists partitions without a leader. kafkajs's own
 * `waitForLeaders` retries only LEADER_NOT_AVAILABLE and gives up on the first
 * UNKNOWN_TOPIC_OR_PARTITION, which failed a CI run; this wait treats both as "not yet".
 * It is bounded: past the deadline it returns, and the caller's first produce or fetch
 * meets the broker's own, retriable, answer.
 */
import type { TopicMetadata } from './types.ts';

export interface LeaderWaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Which failures of a metadata request mean "not yet". Anything else (a bug of ours, say)
   * is thrown at once: programmer errors are never retried. Default: none.
   */
  transient?: (error: unknown) => boolean;
}

/** True once every topic has partitions and each of them a leader. */
export function allLeadersKnown(metadata: TopicMetadata[], topics: string[]): boolean {
  const byName = new Map(metadata.map((topic) => [topic.name, topic]));
  return topics.every((name) => {
    const topic = byName.get(name);
    return (
      topic !== undefined &&
      topic.partitions.length > 0 &&
      topic.partitions.every((partition) => partition.leader >= 0)
    );
  });
}

/** Polls metadata until every partition of `topics` has a leader, or the time is up. Returns whether they all had. */
export async function waitForTopicLeaders(
  fetchMetadata: (topics: string[]) => Promise<TopicMetadata[]>,
  topics: string[],
  options: LeaderWaitOptions = {},
): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 100;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const transient = options.transient ?? (() => false);
  const deadline = now() + timeoutMs;
  for (;;) {
    try {
      if (allLeadersKnown(await fetchMetadata(topics), topics)) return true;
    } catch (error) {
      // A topic created a moment ago may not be served yet (UNKNOWN_TOPIC_OR_PARTITION).
      if (!transient(error)) throw error;
    }
    if (now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
