/**
 * The checkpoint transaction of one input partition: its outputs (aggregates, alerts,
 * device states, dead letters) since the last commit, its checkpoint record in the
 * changelog and its consumer offset (with a pointer to that record as metadata) are
 * committed in ONE Kafka transaction by the partition's own transactional producer.
 *
 *   capture (synchronous: outputs taken, snapshot encoded, next offset noted)
 *   → send outputs → send the checkpoint record → sendOffsets(offset, pointer) → commit
 *
 * Either all of it becomes visible (read_committed) or none of it: a crash at any step
 * leaves the previous transaction as the partition's state, and the next owner restores
 * exactly that and re-reads from its offset. A retriable failure aborts and retries the
 * SAME capture (capped backoff, ended by the signal), so the outputs, the snapshot and the
 * offset of one transaction always belong together. A newer producer with the partition's
 * transactional id fences this one: the result is `fenced` and the caller drops the
 * partition. The producer is never re-initialised here: a zombie that re-claimed its id
 * would fence the rightful owner.
 *
 * A transaction whose commit or abort itself failed (Kafka unreachable at that moment)
 * cannot be ended by this producer any more: kafkajs keeps it in COMMITTING or ABORTING
 * for good, and any new transaction is refused. The result is then `lost`: the caller
 * drops the partition and claims it again through the group (a new producer with the same
 * id aborts the dangling transaction; the state comes back from the last committed
 * checkpoint), rather than stopping the process over a broker outage.
 *
 * A failed produce (a `send` of outputs or of the checkpoint record) is `lost` too, never
 * retried on the same producer (issue 15). kafkajs numbers a partition's records when the
 * request leaves and takes the numbers back when it fails, although the broker may have
 * written it (the answer lost with a broker that died after replicating it, or an earlier
 * try of kafkajs' own retries landed). An abort does not change the producer's epoch, so
 * the retry sends the same capture under the same numbers, and the broker takes each such
 * batch for a duplicate of the aborted one: it writes nothing and answers with the aborted
 * batch's offset. The retry then commits without those records — outputs lost for good,
 * or a checkpoint pointer to an aborted record, from which the next owner restores an
 * empty state. Only a new producer (InitProducerId: a new epoch, numbering from zero)
 * is safe, which is what claiming the partition again does.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../lib/clock.ts';
import { FleetgridError, isFleetgridError, isRetriable } from '../../lib/errors.ts';
import type { OutgoingMessage, TopicMessages, TransactionalProducer } from '../../lib/kafka/index.ts';
import { retry } from '../../lib/retry.ts';
import { checkpointPointer, checkpointRecordKey } from './changelog.ts';

export interface OutputRecord {
  topic: string;
  message: OutgoingMessage;
  /** Encoded size estimate, for request bounds. */
  bytes: number;
}

/** What one transaction carries, captured at one instant. */
export interface CommitCapture {
  topic: string;
  partition: number;
  outputs: OutputRecord[];
  /** The encoded checkpoint (changelog.ts) and the next input offset it covers. */
  checkpoint: Buffer;
  offset: number;
}

export interface CommitOptions {
  groupId: string;
  changelogTopic: string;
  /** Bounds of one produce request inside the transaction (below message.max.bytes). */
  maxRequestBytes: number;
  maxRequestRows: number;
  policy: { baseMs: number; capMs: number };
  clock?: Clock;
  random?: () => number;
  signal?: AbortSignal;
  onRetry?: (error: unknown, attempt: number) => void;
}

export type CommitResult =
  | { outcome: 'committed'; changelogOffset: string; attempts: number; produceMs: number }
  | { outcome: 'fenced'; error: unknown }
  | { outcome: 'lost'; error: unknown };

/** Splits outputs into produce requests within the bounds, keeping each topic's order. */
export function chunkOutputs(
  outputs: readonly OutputRecord[],
  maxBytes: number,
  maxRows: number,
): TopicMessages[][] {
  const chunks: TopicMessages[][] = [];
  let current = new Map<string, OutgoingMessage[]>();
  let rows = 0;
  let bytes = 0;
  const close = () => {
    if (rows === 0) return;
    chunks.push([...current].map(([topic, messages]) => ({ topic, messages })));
    current = new Map();
    rows = 0;
    bytes = 0;
  };
  for (const output of outputs) {
    if (rows > 0 && (rows + 1 > maxRows || bytes + output.bytes > maxBytes)) close();
    const list = current.get(output.topic);
    if (list) list.push(output.message);
    else current.set(output.topic, [output.message]);
    rows++;
    bytes += output.bytes;
  }
  close();
  return chunks;
}

/**
 * Producers left inside a transaction they cannot end, or whose numbering a failed produce
 * put in doubt: every later call on them is `lost`.
 */
const unusableProducers = new WeakSet<TransactionalProducer>();

/**
 * Producers fenced midway: kafkajs keeps them inside the transaction (a fenced producer
 * cannot abort), so every later call on them — a final commit at revocation, say — is
 * `fenced` again rather than a refusal to begin that would stop the process. A coordinator
 * that moved or timed the transaction out answers "old epoch" the same way (seen while a
 * broker of a 3-node cluster was down).
 */
const fencedProducers = new WeakSet<TransactionalProducer>();

/** kafkajs refusing to begin a transaction in the state an earlier failure left it in. */
const STUCK_STATE =
  /Transaction state exception|Cannot call "beginTransaction"|already an ongoing transaction for this producer/;

/** Runs the transaction of `capture` until it commits, is fenced, or fails for good (throws). */
export async function commitPartition(
  producer: TransactionalProducer,
  capture: CommitCapture,
  options: CommitOptions,
): Promise<CommitResult> {
  if (fencedProducers.has(producer)) {
    return {
      outcome: 'fenced',
      error: new FleetgridError('KAFKA_PRODUCER_FENCED', 'the producer was fenced by an earlier transaction'),
    };
  }
  if (unusableProducers.has(producer)) {
    return {
      outcome: 'lost',
      error: new FleetgridError(
        'KAFKA_UNAVAILABLE',
        'the producer cannot be used again (a transaction it cannot end, or a failed produce)',
      ),
    };
  }
  const chunks = chunkOutputs(capture.outputs, options.maxRequestBytes, options.maxRequestRows);
  let attempts = 0;
  let produceMs = 0;
  /** The producer cannot be used again: a transaction it cannot end, a failed produce (header). */
  let unusable = false;
  try {
    const changelogOffset = await retry(
      async () => {
        attempts++;
        const txn = await producer.transaction().catch((error: unknown) => {
          // Left so by a failure this function did not see (or another caller's): lost too.
          if (error instanceof Error && STUCK_STATE.test(error.message)) unusable = true;
          throw unusable
            ? new FleetgridError('KAFKA_UNAVAILABLE', 'begin transaction', { cause: error })
            : error;
        });
        /** A produce that failed may have been written: the producer's numbering is in doubt. */
        const send = (batches: TopicMessages[]) =>
          txn.send(batches).catch((error: unknown) => {
            if (!isFleetgridError(error, 'KAFKA_PRODUCER_FENCED')) unusable = true;
            throw error;
          });
        try {
          const sendStart = performance.now();
          for (const chunk of chunks) await send(chunk);
          const landed = await send([
            {
              topic: options.changelogTopic,
              messages: [
                {
                  key: checkpointRecordKey(capture.partition),
                  value: capture.checkpoint,
                  partition: capture.partition,
                },
              ],
            },
          ]);
          const at = landed.find(
            (p) => p.topic === options.changelogTopic && p.partition === capture.partition,
          )?.baseOffset;
          if (at === undefined || at === '-1') {
            throw new Error(
              `the broker did not say where the checkpoint of ${capture.topic}:${capture.partition} landed`,
            );
          }
          produceMs = performance.now() - sendStart;
          await txn.sendOffsets(options.groupId, [
            {
              topic: capture.topic,
              partition: capture.partition,
              offset: String(capture.offset),
              metadata: checkpointPointer(at),
            },
          ]);
          await txn.commit();
          return at;
        } catch (error) {
          // A fenced producer cannot abort; anything else is aborted (before a retry, or
          // before the partition is given up), so nothing of this attempt ever becomes
          // visible. A failed commit (or abort) leaves the transaction open for good on this
          // producer; a failed produce leaves its numbering in doubt (see the header).
          if (!isFleetgridError(error, 'KAFKA_PRODUCER_FENCED')) {
            if (!txn.isActive()) unusable = true;
            else await txn.abort().catch(() => (unusable = true));
          }
          throw error;
        }
      },
      {
        policy: { ...options.policy, maxRetries: Number.POSITIVE_INFINITY },
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.random ? { random: options.random } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        shouldRetry: (error) =>
          !unusable && isRetriable(error) && !isFleetgridError(error, 'KAFKA_PRODUCER_FENCED'),
        onRetry: (error, attempt) => options.onRetry?.(error, attempt),
      },
    );
    return { outcome: 'committed', changelogOffset, attempts, produceMs };
  } catch (error) {
    if (isFleetgridError(error, 'KAFKA_PRODUCER_FENCED')) {
      fencedProducers.add(producer);
      return { outcome: 'fenced', error };
    }
    if (unusable && isRetriable(error)) {
      unusableProducers.add(producer);
      return { outcome: 'lost', error };
    }
    throw error;
  }
}
