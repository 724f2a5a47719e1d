/**
 * The pure bookkeeping of a group member's partitions: why each one is paused, and
 * whether its input is known. No I/O, no timers: time is passed in.
 *
 * Pause reasons: a partition may be held for several reasons at once (its buffer is full,
 * its next record waits for the registry, the member is stopping); it resumes only when
 * no reason holds any more. Reasons are per partition or member-wide.
 *
 * Input state: a partition's input is "known" when the consumer runs, the partition is
 * assigned, and the consumer's fetches succeed. While it is unknown (the consumer crashed
 * or is rejoining, a fetch keeps failing) nothing may be concluded from silence: an idle
 * timer must not advance stream time on it.
 */

export interface PartitionRef {
  topic: string;
  partition: number;
}

/** The map key of a topic-partition. */
/**
 * Where a consumer may commit past a fetched range that held nothing visible (`tail`, from
 * member.hiddenTail: transaction markers, aborted records). Behind a transactional producer
 * every transaction ends in a marker that read_committed never delivers, so committing only
 * `last record + 1` would leave the group's lag above 0 for good. Only a consumer resting at
 * `restingAt` — everything before it written and committed, nothing pending — and only when
 * the range starts exactly there: then its end. Undefined when there is nothing to skip.
 */
export function positionPastHidden(
  tail: { from: string; to: string } | undefined,
  restingAt: bigint | undefined,
): bigint | undefined {
  if (!tail || restingAt === undefined) return undefined;
  const from = BigInt(tail.from);
  const to = BigInt(tail.to);
  return from === restingAt && to > from ? to : undefined;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function keyOf(ref: PartitionRef): string {
  return partitionKey(ref.topic, ref.partition);
}

export class PauseBook {
  private readonly global = new Set<string>();
  private readonly byPartition = new Map<string, Set<string>>();

  /** Adds `reason` for the partitions (or member-wide for 'all'). */
  add(target: readonly PartitionRef[] | 'all', reason: string): void {
    if (target === 'all') {
      this.global.add(reason);
      return;
    }
    for (const ref of target) {
      const key = keyOf(ref);
      let reasons = this.byPartition.get(key);
      if (!reasons) {
        reasons = new Set();
        this.byPartition.set(key, reasons);
      }
      reasons.add(reason);
    }
  }

  /** Removes `reason` from the partitions (or the member-wide one for 'all'). */
  remove(target: readonly PartitionRef[] | 'all', reason: string): void {
    if (target === 'all') {
      this.global.delete(reason);
      return;
    }
    for (const ref of target) {
      const key = keyOf(ref);
      const reasons = this.byPartition.get(key);
      if (!reasons) continue;
      reasons.delete(reason);
      if (reasons.size === 0) this.byPartition.delete(key);
    }
  }

  /** Forgets every per-partition reason of a partition (it was revoked). */
  forget(ref: PartitionRef): void {
    this.byPartition.delete(keyOf(ref));
  }

  isPaused(ref: PartitionRef): boolean {
    return this.global.size > 0 || this.byPartition.has(keyOf(ref));
  }

  reasons(ref: PartitionRef): string[] {
    return [...new Set([...this.global, ...(this.byPartition.get(keyOf(ref)) ?? [])])].sort();
  }

  /** Partitions with a reason of their own, plus how many member-wide reasons hold. */
  get pausedPartitions(): number {
    return this.byPartition.size;
  }

  get globalReasons(): string[] {
    return [...this.global].sort();
  }
}

/**
 * Whether the consumer's input is flowing, from its fetch events. A fetch that started
 * and has not completed for longer than `graceMs` (a long poll lasts `maxWaitTimeMs`)
 * means fetching fails: the broker is away, the leader moved, the consumer is wedged.
 */
export class InputTracker {
  private running = false;
  private unansweredSince: number | undefined;
  private everFetched = false;
  private readonly graceMs: number;

  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  /** A consumer runs (joined a group): its input may become known with its first fetch. */
  started(): void {
    this.running = true;
    this.unansweredSince = undefined;
    this.everFetched = false;
  }

  /** The consumer stopped, crashed or is being replaced: input unknown until it fetches again. */
  stopped(): void {
    this.running = false;
  }

  fetchStarted(now: number): void {
    this.unansweredSince ??= now;
  }

  fetched(): void {
    this.unansweredSince = undefined;
    this.everFetched = true;
  }

  /** Whether the consumer's fetches are known to succeed at `now`. */
  known(now: number): boolean {
    if (!this.running || !this.everFetched) return false;
    return this.unansweredSince === undefined || now - this.unansweredSince <= this.graceMs;
  }
}
