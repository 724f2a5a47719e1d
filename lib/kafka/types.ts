/**
 * The Kafka types fleetgrid owns. Everything outside lib/kafka/ speaks these; the client
 * library's own types never leave the adapter, so the client can be replaced by rewriting
 * lib/kafka/ alone. Shapes are chosen so the kafkajs objects satisfy them as they are
 * (no copy per record on the hot path).
 */
import type { FleetgridError } from '../errors.ts';

/** Record headers: several values per key are allowed, as on the wire. */
export type RecordHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** A record to produce. `key` is the deviceId for every telemetry topic. */
export interface OutgoingMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: RecordHeaders;
  /** Given: the producer does not partition by key (the caller already did, the same way). */
  partition?: number;
  timestamp?: string;
}

/** One topic's records of a produce request. */
export interface TopicMessages {
  topic: string;
  messages: OutgoingMessage[];
}

/** Where a partition's part of a produce request landed. */
export interface ProducedPartition {
  topic: string;
  partition: number;
  /** Offset of the first record written (a string: offsets are 64-bit). */
  baseOffset: string;
}

/** A consumed record. Offsets are strings: they are 64-bit. */
export interface ConsumedRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeaders;
  timestamp: string;
}

/** The records of one partition from one fetch, in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  /** The partition's log end offset when fetched: tells caught up from behind. */
  highWatermark: string;
  records: ConsumedRecord[];
}

/** What the consumer hands over with a batch. */
export interface FetchedBatch extends ConsumedBatch {
  /** Marks the fetch position: the next fetch of the partition starts after `offset`. Commits are separate. */
  resolveOffset(offset: string): void;
  /** Keeps the group session alive during long work on one batch. */
  heartbeat(): Promise<void>;
  /** False once the batch is stale (rebalance, seek) or the consumer stops: leave it unfinished. */
  isActive(): boolean;
  /** Pauses this partition; what was not resolved is fetched again after resume. */
  pause(): void;
}

export interface TopicPartitions {
  topic: string;
  /** All partitions of the topic when omitted. */
  partitions?: number[];
}

/** An offset to commit: the NEXT offset to read, with optional metadata (e.g. the sink's batch plan). */
export interface CommitOffset {
  topic: string;
  partition: number;
  offset: string;
  metadata?: string | null;
}

/** A completed join of the group: this member's partitions until the next one. */
export interface GroupJoin {
  groupId: string;
  memberId: string;
  isLeader: boolean;
  assignment: Record<string, number[]>;
}

/** What a group consumer reports; listeners are plain callbacks. */
export interface GroupConsumerEvents {
  join: (join: GroupJoin) => void;
  /** The group started a rebalance: partitions may move once it completes. */
  rebalancing: () => void;
  /** A successful heartbeat, with the group generation it confirmed. */
  heartbeat: (info: { memberId: string; generationId: number }) => void;
  /** A fetch request started / completed successfully (the consumer loop is alive). */
  fetchStart: () => void;
  fetch: () => void;
  /**
   * A fetched batch of a partition was handed over or skipped: `lastOffset` is its last
   * offset including what read_committed hides (transaction markers, aborted records), so
   * a reader knows it reached a position even when no record there is visible.
   */
  batchEnd: (info: {
    topic: string;
    partition: number;
    /** First offset fetched, hidden ones included (null when the fetch held nothing at all). */
    firstOffset: string | null;
    lastOffset: string;
    /** Records handed over; 0 when everything fetched was hidden (markers, aborted records). */
    records: number;
  }) => void;
  /** The consumer stopped for good after an error (the client will not restart it). */
  crash: (error: FleetgridError) => void;
}

export interface ConsumerOptions {
  groupId: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  maxBytesPerPartition?: number;
  maxBytes?: number;
  maxWaitTimeMs?: number;
  /**
   * The broker answers a fetch once it has this many bytes for the consumer, or after
   * maxWaitTimeMs (default 1: at once). A few KiB turn a trickle of records into a few
   * fetches a second instead of one per record, the largest cost of an idle service.
   */
  minBytes?: number;
  /**
   * Who restarts a consumer that crashed on a retriable error: the client by itself (true,
   * the default: readers, tests), or its owner on the `crash` event (false: the runtime's
   * group member and the processor, which leave the group first).
   */
  clientRestarts?: boolean;
}

/** A member of a consumer group. Offsets are committed explicitly, never automatically. */
export interface GroupConsumer {
  connect(): Promise<void>;
  subscribe(topics: readonly string[], options: { fromBeginning: boolean }): Promise<void>;
  /** Starts fetching; resolves once the loop runs (joining happens in the background). */
  run(options: { concurrency: number; eachBatch: (batch: FetchedBatch) => Promise<void> }): Promise<void>;
  pause(partitions: TopicPartitions[]): void;
  resume(partitions: TopicPartitions[]): void;
  seek(topic: string, partition: number, offset: string): void;
  commitOffsets(offsets: CommitOffset[]): Promise<void>;
  /** Stops fetching, leaves the group (LeaveGroup, so the partitions move at once) and disconnects. */
  disconnect(): Promise<void>;
  /** Adds a listener; returns its removal. */
  on<E extends keyof GroupConsumerEvents>(event: E, listener: GroupConsumerEvents[E]): () => void;
}

export interface ProducerOptions {
  /**
   * Bounded in-flight requests per broker connection: the producer's own backpressure. An
   * idempotent producer always keeps 1 (kafkajs cannot renumber requests behind a failed one).
   */
  maxInFlightRequests?: number;
  /**
   * Idempotent produce (producer id + sequence numbers): a retry after an ambiguous failure
   * cannot write a record twice, and a partition's order survives a leader change.
   */
  idempotent?: boolean;
}

/** A producer whose every send waits for all in-sync replicas (acks=all). */
export interface KafkaProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(topic: string, messages: OutgoingMessage[]): Promise<ProducedPartition[]>;
  /** One request per broker for many topics: how producers amortise round trips. */
  sendBatch(batches: TopicMessages[]): Promise<ProducedPartition[]>;
}

/**
 * A transactional producer: a transactional id fences older producers with the same id
 * (zombie fencing), and a transaction's records and offsets become visible atomically.
 */
export interface TransactionalProducer {
  /** Connects and claims the transactional id: an older producer with the id is fenced from now on. */
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  transaction(): Promise<Transaction>;
}

export interface Transaction {
  /** Produces inside the transaction; says where each partition's records landed. */
  send(batches: TopicMessages[]): Promise<ProducedPartition[]>;
  /** Commits consumer offsets (with metadata) as part of the transaction. */
  sendOffsets(groupId: string, offsets: CommitOffset[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

export interface TopicSpecInput {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  configEntries: { name: string; value: string }[];
}

export interface PartitionOffsets {
  partition: number;
  /** The log end offset (next offset to be written). */
  high: string;
  /** The log start offset. */
  low: string;
}

export interface CommittedOffsets {
  topic: string;
  partitions: { partition: number; offset: string; metadata: string | null }[];
}

export interface TopicMetadata {
  name: string;
  /** `isr`: the replicas in sync with the leader (all of `replicas` when fully in sync). */
  partitions: { partitionId: number; leader: number; replicas: number[]; isr: number[] }[];
}

/** A topic's or a broker's configuration values, for the names asked. */
export interface ResourceConfigs {
  type: 'topic' | 'broker';
  name: string;
  configs: Record<string, string | null>;
}

export interface GroupDescription {
  groupId: string;
  state: string;
  members: { memberId: string; clientId: string }[];
}

/** The admin operations fleetgrid uses, and only those. */
export interface KafkaAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Creates the topics; resolves once each partition has a leader (bounded wait, leaders.ts). */
  createTopics(topics: TopicSpecInput[]): Promise<void>;
  deleteTopics(topics: string[], timeoutMs?: number): Promise<void>;
  fetchTopicMetadata(topics: string[]): Promise<TopicMetadata[]>;
  /** Committed offsets of a group ('-1' = none), for `topics` or every topic it committed on. */
  fetchCommittedOffsets(groupId: string, topics?: string[]): Promise<CommittedOffsets[]>;
  fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]>;
  /** The first offset at or after `timestampMs` per partition ('-1' when none). */
  fetchTopicOffsetsByTimestamp(
    topic: string,
    timestampMs: number,
  ): Promise<{ partition: number; offset: string }[]>;
  setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: { partition: number; offset: string }[],
  ): Promise<void>;
  listGroups(): Promise<string[]>;
  describeGroups(groupIds: string[]): Promise<GroupDescription[]>;
  deleteGroups(groupIds: string[]): Promise<void>;
  /**
   * Sends LeaveGroup for `memberId`: removes a member whose own leave did not reach the
   * broker (it crashed while the broker was away), so the group rebalances at once instead
   * of waiting for that member's session to expire. Resolves when the member is gone.
   */
  leaveGroup(groupId: string, memberId: string): Promise<void>;
  describeConfigs(
    resources: { type: 'topic' | 'broker'; name: string; configNames: string[] }[],
  ): Promise<ResourceConfigs[]>;
  /** Broker ids and the controller: a readiness probe. */
  describeCluster(): Promise<{ brokers: number[]; controller: number | null }>;
}

export interface KafkaClient {
  producer(options?: ProducerOptions): KafkaProducer;
  /** `transactionalId` identifies the producer across restarts; a new one fences the old. */
  transactionalProducer(
    transactionalId: string,
    options?: { transactionTimeoutMs?: number },
  ): TransactionalProducer;
  consumer(options: ConsumerOptions): GroupConsumer;
  admin(): KafkaAdmin;
}
