/**
 * One claimed input partition as the runner holds it: its core, its output buffer, its
 * transactional producer and the bookkeeping of its position and commits.
 */
import type { TransactionalProducer } from '../../lib/kafka/index.ts';
import type { PartitionRef } from '../../lib/stream/index.ts';
import type { DeviceState } from '../../schemas/types.ts';
import type { PartitionCore } from '../core/index.ts';
import type { OutputBuffer } from './buffer.ts';
import type { OutputRouter } from './outputs.ts';
import type { StateWrite } from './read-model.ts';

export interface PartitionTask {
  ref: PartitionRef;
  /** `topic:partition`, the map key. */
  id: string;
  generation: number;
  producer: TransactionalProducer;
  core: PartitionCore;
  buffer: OutputBuffer<DeviceState>;
  router: OutputRouter;
  /** Next offset to process; undefined until the first record when nothing was committed. */
  nextOffset: number | undefined;
  /** Highest offset counted as received, so a held or refetched record is counted once. */
  lastReceived: number;
  /** Bumped whenever the state changes; a commit is due when it differs from committedVersion. */
  version: number;
  committedVersion: number;
  lastCommitAt: number;
  /** The partition's log end offset as of the last fetched batch. */
  highWatermark: number | undefined;
  /** The offset a seek was last issued for: seek once, then accept a real gap (retention). */
  soughtFor: number | undefined;
  committing: Promise<void> | undefined;
  dropped: boolean;
  /** The buffer's coalesced count already reported as acked (replaced states leave unsent). */
  coalescedReported: number;
  /** The newest committed state per device: written again when Redis comes back empty. */
  committedStates: Map<string, StateWrite>;
  /** Size of the partition's newest checkpoint record (gzipped). */
  checkpointBytes: number;
}

/** `topic:partition`: the key of a partition in maps, logs and stats. */
export const idOf = (ref: PartitionRef): string => `${ref.topic}:${ref.partition}`;
