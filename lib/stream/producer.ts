/**
 * The batching ordered producer every fleetgrid stage sends through (simulator, load
 * generator, sink dead letters; the processor next).
 *
 * - Lanes: every topic-partition belongs to exactly one lane, and a lane has at most one
 *   request awaiting its acks. Several requests are in flight at once, yet the records of a
 *   partition (hence of a device) reach the broker in the order they were added: kafkajs
 *   alone does not keep order across concurrent sends.
 * - Requests are bounded by rows AND bytes (`maxRequestBytes`, below the broker's
 *   message.max.bytes, 1 MiB by default), so no request is ever refused for its size. A
 *   single record over the bound fails alone with KAFKA_RECORD_TOO_LARGE before it is sent;
 *   should the broker's limit still be lower than ours, a refused request is split in
 *   halves until the record at fault fails alone.
 * - acks=all; a request is retried only for retriable errors, with capped full-jitter
 *   backoff (lib/retry.ts), while its lane waits (order kept), and the retry ends when the
 *   producer's signal aborts (shutdown).
 * - Completion is per request: `onOutcome` hears which records were acknowledged (or
 *   failed, and why), each with the caller's `meta`, so a caller counts exactly what the
 *   broker holds. `send()` wraps that into one promise for a group of records.
 * - Idempotent mode (producer id + sequence numbers) makes a retry after an ambiguous
 *   failure (a lost response, a leader change) write nothing twice. When a request is given
 *   up, its partitions' sequence numbers no longer match what the broker saw, so the client
 *   is replaced (a new producer id) before the lane sends again.
 */
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { FleetgridError, isFleetgridError, isRetriable, toFleetgridError } from '../errors.ts';
import type {
  KafkaClient,
  KafkaProducer,
  OutgoingMessage,
  RecordHeaders,
  TopicMessages,
} from '../kafka/index.ts';
import { partitionForKey } from '../kafka/index.ts';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import { type BackoffPolicy, retry } from '../retry.ts';

/** Bytes a record adds to a request beyond its key, value and headers (batch framing, varints). */
export const RECORD_OVERHEAD_BYTES = 70;

/** Estimated bytes of one record in a produce request. */
export function recordBytes(message: OutgoingMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + sizeOf(message.key) + sizeOf(message.value);
  if (message.headers) bytes += headerBytes(message.headers);
  return bytes;
}

function sizeOf(data: Buffer | string | null | undefined): number {
  if (data === null || data === undefined) return 0;
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

function headerBytes(headers: RecordHeaders): number {
  let bytes = 0;
  for (const [key, value] of Object.entries(headers)) {
    bytes += Buffer.byteLength(key) + 2;
    if (Array.isArray(value)) for (const v of value) bytes += sizeOf(v) + 2;
    else bytes += sizeOf(value) + 2;
  }
  return bytes;
}

export interface BatchingProducerConfig {
  /** Most records in one produce request. */
  maxRequestRows: number;
  /** Most (estimated) bytes in one produce request; below the broker's message.max.bytes. */
  maxRequestBytes: number;
  /** How long a record may wait for company before its lane sends anyway. */
  lingerMs: number;
  /**
   * A lane holding fewer than `rows` records waits `ms` instead of lingerMs (optional; off by
   * default). Every request costs the same few hundred microseconds of client CPU whatever
   * it carries, so at a trickle (the demo: 64 events/s over four lanes) a 50 ms linger means
   * a request per one or two records; a busy lane reaches `rows` and keeps lingerMs.
   */
  quietLinger?: { rows: number; ms: number };
  /**
   * Ordered lanes: the produce requests in flight at once. An idempotent producer gains
   * little from more than one: kafkajs sends one request at a time per broker in idempotent
   * mode (a lock per broker), so more lanes mostly cut the same bytes into more, smaller
   * requests that wait in turn (measured in docs/benchmarks/producers.md).
   */
  lanes: number;
  /** Backoff of retriable failures. */
  retry: Pick<BackoffPolicy, 'baseMs' | 'capMs'>;
  /** Idempotent produce (see the header). */
  idempotent: boolean;
}

export const DEFAULT_PRODUCER_CONFIG: BatchingProducerConfig = {
  maxRequestRows: 5_000,
  // The broker's default message.max.bytes is 1 MiB (1 048 588 bytes per record batch);
  // our estimate is close but not exact, so keep a margin.
  maxRequestBytes: 900 * 1024,
  lingerMs: 20,
  lanes: 1,
  retry: { baseMs: 100, capMs: 10_000 },
  idempotent: true,
};

/** A record the producer holds: where it goes, its size, and the caller's tag. */
export interface QueuedRecord<M> {
  topic: string;
  partition: number;
  message: OutgoingMessage;
  bytes: number;
  meta: M;
}

/** What became of a request's records: all acknowledged, or all not (with the reason). */
export type ProduceOutcome<M> = (
  | { ok: true; records: readonly QueuedRecord<M>[] }
  | { ok: false; records: readonly QueuedRecord<M>[]; error: FleetgridError }
) & {
  /** From the first attempt to the outcome, retries included. */
  durationMs: number;
};

export interface BatchingProducerDeps<M> {
  /** Makes the client (again, to replace an idempotent client after a given-up request). */
  kafka: Pick<KafkaClient, 'producer'>;
  /** Partition counts of every topic the producer may be given (records without a partition). */
  partitions: Record<string, number>;
  onOutcome?: (outcome: ProduceOutcome<M>) => void;
  /** Aborts retries and waits (shutdown): what is not acknowledged by then fails with TIMEOUT. */
  signal?: AbortSignal;
  clock?: Clock;
  random?: () => number;
  log?: Logger;
  /** Called before each retry wait: metrics. */
  onRetry?: (error: FleetgridError, attempt: number, delayMs: number) => void;
}

export interface SendResult {
  acked: number;
  failed: { message: OutgoingMessage; error: FleetgridError }[];
}

export interface BatchingProducer<M = undefined> {
  /** Connects the client. */
  start(): Promise<void>;
  /**
   * Queues one record for `topic` (its partition: `message.partition`, else by key as every
   * fleetgrid producer does, else round-robin). Sets `message.partition`. Synchronous: the
   * outcome comes through `onOutcome`.
   */
  add(topic: string, message: OutgoingMessage, meta: M): void;
  /** Queues records and resolves once every one of them was acknowledged or failed. */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<SendResult>;
  /** Sends what is queued without waiting for the linger and resolves once nothing is outstanding. */
  flush(): Promise<void>;
  /** Starts sending what is queued now (the lanes that are free), without waiting for the linger. */
  sendQueued(): void;
  /** Resolves once at most `rows` records (queued + in flight) are outstanding: backpressure. */
  below(rows: number): Promise<void>;
  /** Records and bytes queued or in flight. */
  readonly outstanding: { rows: number; bytes: number };
  /** Requests in flight now. */
  readonly inFlight: number;
  /** Flushes, then disconnects. */
  close(): Promise<void>;
}

interface Lane<M> {
  queue: QueuedRecord<M>[];
  head: number;
  queuedBytes: number;
  oldestAt: number;
  sending: Promise<void> | undefined;
}

export function createBatchingProducer<M = undefined>(
  config: BatchingProducerConfig,
  deps: BatchingProducerDeps<M>,
): BatchingProducer<M> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? silentLogger;
  const laneCount = Math.max(1, config.lanes);
  const lanes: Lane<M>[] = Array.from({ length: laneCount }, () => ({
    queue: [],
    head: 0,
    queuedBytes: 0,
    oldestAt: 0,
    sending: undefined,
  }));
  const topicIndex = new Map(Object.keys(deps.partitions).map((topic, i) => [topic, i]));
  const roundRobin = new Map<string, number>();
  let client: KafkaProducer | undefined;
  let replacing: Promise<void> | undefined;
  let outstandingRows = 0;
  let outstandingBytes = 0;
  let inFlight = 0;
  let lingerTimer: NodeJS.Timeout | undefined;
  let flushing = 0;
  let waiters: { rows: number; resolve: () => void }[] = [];
  let idle: PromiseWithResolvers<void> | undefined;
  const groups = new WeakMap<object, (outcome: ProduceOutcome<M>) => void>();

  async function connect(): Promise<KafkaProducer> {
    const created = deps.kafka.producer({ idempotent: config.idempotent, maxInFlightRequests: laneCount });
    await created.connect();
    return created;
  }

  function laneOf(topic: string, partition: number): Lane<M> {
    // 7 is prime to the usual lane counts: the partitions of several topics spread evenly.
    const slot = (topicIndex.get(topic) ?? 0) * 7 + partition;
    return lanes[slot % lanes.length] as Lane<M>;
  }

  function partitionOf(topic: string, message: OutgoingMessage): number {
    if (message.partition !== undefined) return message.partition;
    const count = deps.partitions[topic];
    if (count === undefined) {
      throw new FleetgridError('INTERNAL', `the producer was not told the partitions of ${topic}`);
    }
    if (message.key !== null && message.key !== undefined) return partitionForKey(message.key, count);
    const next = ((roundRobin.get(topic) ?? -1) + 1) % count;
    roundRobin.set(topic, next);
    return next;
  }

  function report(outcome: ProduceOutcome<M>): void {
    let bytes = 0;
    for (const record of outcome.records) bytes += record.bytes;
    outstandingRows -= outcome.records.length;
    outstandingBytes -= bytes;
    // A send() group hears about its records; everyone else through onOutcome.
    try {
      deps.onOutcome?.(outcome);
    } catch (error) {
      log.error({ err: error }, 'produce outcome handler failed');
    }
    const first = outcome.records[0]?.meta;
    if (first !== null && typeof first === 'object') {
      const byGroup = new Map<(o: ProduceOutcome<M>) => void, QueuedRecord<M>[]>();
      for (const record of outcome.records) {
        const listener = groups.get(record.meta as object);
        if (!listener) continue;
        const list = byGroup.get(listener) ?? [];
        if (list.length === 0) byGroup.set(listener, list);
        list.push(record);
      }
      for (const [listener, records] of byGroup) {
        const { durationMs } = outcome;
        listener(
          outcome.ok
            ? { ok: true, records, durationMs }
            : { ok: false, records, error: outcome.error, durationMs },
        );
      }
    }
    if (waiters.length > 0) {
      const due = waiters.filter((w) => outstandingRows <= w.rows);
      waiters = waiters.filter((w) => outstandingRows > w.rows);
      for (const waiter of due) waiter.resolve();
    }
    if (outstandingRows === 0 && idle) {
      idle.resolve();
      idle = undefined;
    }
  }

  function queuedRows(lane: Lane<M>): number {
    return lane.queue.length - lane.head;
  }

  /** The next request of a lane: at least one record, at most the row and byte bounds. */
  function cut(lane: Lane<M>): QueuedRecord<M>[] {
    const start = lane.head;
    let end = start;
    let bytes = 0;
    while (end < lane.queue.length && end - start < config.maxRequestRows) {
      const next = (lane.queue[end] as QueuedRecord<M>).bytes;
      if (end > start && bytes + next > config.maxRequestBytes) break;
      bytes += next;
      end++;
    }
    const request = lane.queue.slice(start, end);
    lane.head = end;
    lane.queuedBytes -= bytes;
    if (lane.head === lane.queue.length) {
      lane.queue = [];
      lane.head = 0;
    } else if (lane.head > 4_096) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
    return request;
  }

  function lingerOf(rows: number): number {
    const quiet = config.quietLinger;
    return quiet && rows < quiet.rows ? Math.max(quiet.ms, config.lingerMs) : config.lingerMs;
  }

  function due(lane: Lane<M>, now: number): boolean {
    const rows = queuedRows(lane);
    if (rows === 0) return false;
    return (
      flushing > 0 ||
      rows >= config.maxRequestRows ||
      lane.queuedBytes >= config.maxRequestBytes ||
      now - lane.oldestAt >= lingerOf(rows)
    );
  }

  function pump(lane: Lane<M>): void {
    if (lane.sending || !due(lane, clock.now())) return;
    const run = (async () => {
      while (due(lane, clock.now())) {
        await sendRequest(cut(lane));
      }
    })().finally(() => {
      lane.sending = undefined;
      // Records added while the last request was out may already be due.
      pump(lane);
      armLinger();
    });
    lane.sending = run;
  }

  function armLinger(): void {
    if (lingerTimer) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of lanes) {
      if (!lane.sending && queuedRows(lane) > 0)
        earliest = Math.min(earliest, lane.oldestAt + lingerOf(queuedRows(lane)));
    }
    if (!Number.isFinite(earliest)) return;
    lingerTimer = setTimeout(
      () => {
        lingerTimer = undefined;
        for (const lane of lanes) pump(lane);
        armLinger();
      },
      Math.max(0, earliest - clock.now()),
    );
    lingerTimer.unref?.();
  }

  async function currentClient(): Promise<KafkaProducer> {
    while (replacing) await replacing;
    if (!client) throw new FleetgridError('INTERNAL', 'producer not started');
    return client;
  }

  /** After a given-up idempotent request: a new producer id, so sequence numbers start clean. */
  function replaceClient(): Promise<void> {
    if (!config.idempotent || deps.signal?.aborted) return Promise.resolve();
    if (replacing) return replacing;
    const old = client;
    replacing = (async () => {
      try {
        await old?.disconnect().catch(() => {});
        client = await retry(() => connect(), {
          policy: config.retry,
          clock,
          ...(deps.signal ? { signal: deps.signal } : {}),
          ...(deps.random ? { random: deps.random } : {}),
        });
      } catch (error) {
        log.warn({ err: error }, 'producer could not be replaced');
      } finally {
        replacing = undefined;
      }
    })();
    return replacing;
  }

  function toMessages(records: readonly QueuedRecord<M>[]): TopicMessages[] {
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const record of records) {
      const list = byTopic.get(record.topic);
      if (list) list.push(record.message);
      else byTopic.set(record.topic, [record.message]);
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  }

  async function sendRequest(records: QueuedRecord<M>[]): Promise<void> {
    if (records.length === 0) return;
    const startedAt = clock.now();
    inFlight++;
    try {
      await retry(
        async () => {
          if (deps.signal?.aborted) {
            throw new FleetgridError('TIMEOUT', 'producer stopped before the records were acknowledged', {
              retriable: false,
            });
          }
          // Without an await first when the client is there: the request leaves in this tick.
          const current = client && !replacing ? client : await currentClient();
          await current.sendBatch(toMessages(records));
        },
        {
          policy: { ...config.retry, maxRetries: Number.POSITIVE_INFINITY },
          clock,
          ...(deps.signal ? { signal: deps.signal } : {}),
          ...(deps.random ? { random: deps.random } : {}),
          shouldRetry: (error) => isRetriable(error) && !deps.signal?.aborted,
          onRetry: (error, attempt, delayMs) =>
            deps.onRetry?.(toFleetgridError(error, 'INTERNAL'), attempt, delayMs),
        },
      );
      report({ ok: true, records, durationMs: clock.now() - startedAt });
    } catch (caught) {
      let error = toFleetgridError(caught, 'INTERNAL');
      if (error.retriable && deps.signal?.aborted) {
        error = new FleetgridError('TIMEOUT', 'producer stopped before the records were acknowledged', {
          cause: error,
          retriable: false,
        });
      }
      if (isFleetgridError(error, 'KAFKA_RECORD_TOO_LARGE') && records.length > 1) {
        // The broker's limit is below ours: find the record at fault, keep the rest (in order).
        inFlight--;
        const mid = Math.ceil(records.length / 2);
        await sendRequest(records.slice(0, mid));
        await sendRequest(records.slice(mid));
        inFlight++;
        return;
      }
      if (!isFleetgridError(error, 'KAFKA_RECORD_TOO_LARGE')) await replaceClient();
      report({ ok: false, records, error, durationMs: clock.now() - startedAt });
    } finally {
      inFlight--;
    }
  }

  function add(topic: string, message: OutgoingMessage, meta: M): void {
    const partition = partitionOf(topic, message);
    message.partition = partition;
    const bytes = recordBytes(message);
    const record: QueuedRecord<M> = { topic, partition, message, bytes, meta };
    outstandingRows++;
    outstandingBytes += bytes;
    if (bytes > config.maxRequestBytes) {
      // Never joins a request: it would be refused with everything sent beside it.
      const error = new FleetgridError(
        'KAFKA_RECORD_TOO_LARGE',
        `record of about ${bytes} bytes for ${topic} exceeds the request bound of ${config.maxRequestBytes} bytes`,
        { details: { topic, bytes, limit: config.maxRequestBytes } },
      );
      queueMicrotask(() => report({ ok: false, records: [record], error, durationMs: 0 }));
      return;
    }
    const lane = laneOf(topic, partition);
    if (queuedRows(lane) === 0) lane.oldestAt = clock.now();
    lane.queue.push(record);
    lane.queuedBytes += bytes;
    if (
      !lane.sending &&
      (queuedRows(lane) >= config.maxRequestRows || lane.queuedBytes >= config.maxRequestBytes)
    ) {
      pump(lane);
    } else if (!lane.sending) {
      // A lane that just stopped being quiet is due sooner than the timer armed for it.
      if (queuedRows(lane) === config.quietLinger?.rows && lingerTimer) {
        clearTimeout(lingerTimer);
        lingerTimer = undefined;
        pump(lane);
      }
      armLinger();
    }
  }

  async function flush(): Promise<void> {
    flushing++;
    try {
      for (;;) {
        for (const lane of lanes) pump(lane);
        const sending = lanes.map((lane) => lane.sending).filter((s) => s !== undefined);
        if (sending.length === 0 && lanes.every((lane) => queuedRows(lane) === 0)) break;
        await Promise.all(sending);
      }
      if (outstandingRows > 0) {
        idle ??= Promise.withResolvers<void>();
        await idle.promise;
      }
    } finally {
      flushing--;
    }
  }

  return {
    async start() {
      client = await connect();
    },
    add,
    send(topic, messages) {
      if (messages.length === 0) return Promise.resolve({ acked: 0, failed: [] });
      const done = Promise.withResolvers<SendResult>();
      const result: SendResult = { acked: 0, failed: [] };
      let remaining = messages.length;
      const token = {} as M & object;
      groups.set(token, (outcome) => {
        if (outcome.ok) result.acked += outcome.records.length;
        else
          for (const r of outcome.records) result.failed.push({ message: r.message, error: outcome.error });
        remaining -= outcome.records.length;
        if (remaining === 0) done.resolve(result);
      });
      try {
        for (const message of messages) add(topic, message, token);
      } catch (error) {
        done.reject(error);
      }
      return done.promise;
    },
    flush,
    sendQueued() {
      flushing++;
      try {
        for (const lane of lanes) pump(lane);
      } finally {
        flushing--;
      }
    },
    below(rows) {
      if (outstandingRows <= rows) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ rows, resolve }));
    },
    get outstanding() {
      return { rows: outstandingRows, bytes: outstandingBytes };
    },
    get inFlight() {
      return inFlight;
    },
    async close() {
      await flush();
      if (lingerTimer) clearTimeout(lingerTimer);
      lingerTimer = undefined;
      while (replacing) await replacing;
      await client?.disconnect().catch(() => {});
      client = undefined;
    },
  };
}
