/**
 * Checkpoints as Kafka records (pure): the codec of a partition's checkpoint record in its
 * compacted changelog topic, the pointer to that record carried in the committed offset's
 * metadata, and the changelog topics' specs. The I/O that writes them is transactions.ts,
 * the one that reads them back restore.ts; docs/processors.md argues the design.
 *
 * A record holds the whole snapshot of one input partition's core plus the next input
 * offset, gzipped JSON. Whole, not split per device: a restore then reads exactly one
 * record (the pointer says which), and a snapshot is consistent by construction. The
 * topic's max.message.bytes bounds it; the runner refuses, loudly, to write a larger one.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { FleetgridError } from '../../lib/errors.ts';
import { changelogTopic } from '../../lib/stream/index.ts';
import { RAW_TOPIC_KEYS, type TopicSpec, topicNames } from '../../lib/topics.ts';

/** Bumped when the record layout changes; an unknown version is refused, never guessed at. */
export const CHECKPOINT_VERSION = 2;

export interface Checkpoint {
  /** The next input offset to process: every event before it is reflected in `snapshot`. */
  offset: number;
  snapshot: unknown;
}

export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  if (!Number.isSafeInteger(checkpoint.offset) || checkpoint.offset < 0) {
    throw new FleetgridError('INTERNAL', `checkpoint offset ${checkpoint.offset} is not a valid offset`);
  }
  const json = JSON.stringify({
    v: CHECKPOINT_VERSION,
    offset: checkpoint.offset,
    snapshot: checkpoint.snapshot ?? null,
  });
  // Level 1: snapshots are repetitive JSON (field names per device); fast level gets most of it.
  return gzipSync(json, { level: 1 });
}

export function decodeCheckpoint(value: Buffer | null): Checkpoint {
  if (!value) throw new FleetgridError('INTERNAL', 'checkpoint record has no value');
  let parsed: { v?: unknown; offset?: unknown; snapshot?: unknown };
  try {
    parsed = JSON.parse(gunzipSync(value).toString('utf8'));
  } catch (error) {
    throw new FleetgridError('INTERNAL', 'checkpoint record is not gzipped JSON', { cause: error });
  }
  if (parsed?.v !== CHECKPOINT_VERSION) {
    throw new FleetgridError(
      'INTERNAL',
      `checkpoint layout version ${String(parsed?.v)} is not ${CHECKPOINT_VERSION}: refusing to guess its meaning`,
    );
  }
  const offset = parsed.offset;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new FleetgridError('INTERNAL', `checkpoint offset "${String(offset)}" is not an offset`);
  }
  return { offset, snapshot: parsed.snapshot ?? null };
}

const POINTER = /^fleetgrid-checkpoint:v2:(\d+)$/;

/** The committed offset's metadata: where this partition's checkpoint record is in its changelog. */
export function checkpointPointer(changelogOffset: string): string {
  if (!/^\d+$/.test(changelogOffset)) {
    throw new FleetgridError('INTERNAL', `changelog offset "${changelogOffset}" is not an offset`);
  }
  return `fleetgrid-checkpoint:v2:${changelogOffset}`;
}

/** The changelog offset a committed offset's metadata points to; undefined when it carries none. */
export function parseCheckpointPointer(metadata: string | null | undefined): string | undefined {
  return metadata ? POINTER.exec(metadata)?.[1] : undefined;
}

/** The key of a checkpoint record: its input partition (compaction keeps the newest per key). */
export function checkpointRecordKey(partition: number): string {
  return String(partition);
}

/** The changelog topic of each input topic (prefixed names), for the group `groupBase`. */
export function changelogTopics(prefix: string, groupBase: string): Record<string, string> {
  const full = topicNames(prefix);
  const base = topicNames('');
  return Object.fromEntries(
    RAW_TOPIC_KEYS.map((key) => [full[key], changelogTopic(prefix, groupBase, base[key])]),
  );
}

/**
 * The changelog topics, partitioned like their input topics. Compacted: only the newest
 * checkpoint per partition matters, the rest is cleaned. max.message.bytes is raised for
 * whole snapshots (the broker's default of 1 MiB is far too tight for a busy partition).
 */
export function changelogSpecs(
  changelogs: Record<string, string>,
  inputPartitions: Record<string, number>,
  maxMessageBytes: number,
): TopicSpec[] {
  return Object.entries(changelogs).map(([input, name]) => {
    const partitions = inputPartitions[input];
    if (partitions === undefined) {
      throw new FleetgridError('INTERNAL', `no partition count for input topic ${input}`);
    }
    return {
      name,
      partitions,
      config: {
        'cleanup.policy': 'compact',
        'max.message.bytes': String(maxMessageBytes),
        // Older checkpoints are dead weight the moment a newer one commits.
        'min.compaction.lag.ms': '0',
        'segment.bytes': String(Math.max(64 * 1024 * 1024, maxMessageBytes * 4)),
      },
    };
  });
}
