/**
 * How an idempotent producer's requests leave, so that the broker's sequence numbers stay
 * true through a leader change (issue 15). The I/O (one kafkajs send of one partition's
 * records) is injected; this is the bookkeeping around it.
 *
 * Why kafkajs alone is not enough (2.2.4, its last release):
 * - It numbers records per partition when a request leaves and, when the request fails,
 *   subtracts the count again, with no reassignment of later requests (Kafka's own client
 *   does that; kafkajs never did: tulios/kafkajs#598, #980). Two requests of one partition in
 *   flight at once (a leader change sends the second to another broker) leave the count
 *   wrong, and every later request of the partition is refused as OUT_OF_ORDER_SEQUENCE_NUMBER.
 * - A send over several brokers remembers which brokers answered; when it retries after a
 *   leader change, a partition that moved to a broker that already answered is not sent at
 *   all (the send still resolves), and when its retries run out after some brokers answered,
 *   the caller's retry writes those brokers' records a second time under new numbers.
 *
 * So every call is cut into one request per partition (each is acknowledged or fails as a
 * whole, and a kafkajs retry re-sends exactly it with the same numbers), a partition has at
 * most one request in flight from this producer (requests queue per partition in call
 * order), and when a call fails after some of its partitions were acknowledged, a retry of
 * the same message objects skips those (their earlier result is returned) instead of writing
 * them again. After a failed request, the next request of its partition must be that same
 * request again: anything else would reuse its sequence numbers for other records, which
 * the broker takes as a duplicate (the records silently dropped) or refuses, so it is
 * refused here, as final, before it leaves (a new producer id is the way on).
 *
 * A transaction keeps its one request (any failure aborts it whole), but client.ts checks
 * that the answer names every partition it carried (`unansweredPartitions`, with the
 * partitions kafkajs' own partitioner chose): a skipped one
 * would otherwise be committed without its records.
 */
import { FleetgridError, isRetriable, toFleetgridError } from '../errors.ts';
import type { OutgoingMessage, ProducedPartition, TopicMessages } from './types.ts';

/** One partition's records of a call: what one request carries. */
export interface PartitionRequest {
  topic: string;
  partition: number;
  messages: OutgoingMessage[];
}

/** Cuts a call into per-partition requests, in the order of each partition's records. */
export function partitionRequests(
  batches: readonly TopicMessages[],
  partitionOf: (topic: string, message: OutgoingMessage) => number,
): PartitionRequest[] {
  const requests = new Map<string, PartitionRequest>();
  for (const { topic, messages } of batches) {
    for (const message of messages) {
      const partition = partitionOf(topic, message);
      const key = `${topic}\u0000${partition}`;
      const request = requests.get(key);
      if (request) request.messages.push(message);
      else requests.set(key, { topic, partition, messages: [message] });
    }
  }
  return [...requests.values()];
}

/** `topic[partition]` of every request the answer does not mention. */
export function unansweredPartitions(
  requests: readonly PartitionRequest[],
  produced: readonly ProducedPartition[],
): string[] {
  const answered = new Set(produced.map((p) => `${p.topic}\u0000${p.partition}`));
  return requests
    .filter((r) => !answered.has(`${r.topic}\u0000${r.partition}`))
    .map((r) => `${r.topic}[${r.partition}]`);
}

export type SendPartition = (request: PartitionRequest) => Promise<ProducedPartition>;

export interface IdempotentSender {
  send(batches: readonly TopicMessages[]): Promise<ProducedPartition[]>;
}

export function createIdempotentSender(
  sendPartition: SendPartition,
  partitionOf: (topic: string, message: OutgoingMessage) => number,
): IdempotentSender {
  /** The tail of each partition's queue of requests. */
  const tails = new Map<string, Promise<unknown>>();
  /** Records acknowledged within a call that failed elsewhere: a retry returns this instead. */
  const acknowledged = new WeakMap<OutgoingMessage, ProducedPartition>();
  /** A partition's failed request (its first record): the only request it may send next. */
  const failed = new Map<string, OutgoingMessage>();

  async function sendOne(key: string, request: PartitionRequest): Promise<ProducedPartition> {
    let earlier: ProducedPartition | undefined;
    const unsent: OutgoingMessage[] = [];
    for (const message of request.messages) {
      const result = acknowledged.get(message);
      if (result) {
        earlier ??= result;
        acknowledged.delete(message);
      } else unsent.push(message);
    }
    if (unsent.length === 0) return earlier as ProducedPartition;
    const pending = failed.get(key);
    if (pending && pending !== unsent[0]) {
      throw new FleetgridError(
        'INTERNAL',
        `produce to ${request.topic}[${request.partition}]: a failed request of this partition must be retried before other records go, or its sequence numbers would be reused (a new producer id is needed)`,
        { retriable: false },
      );
    }
    try {
      const result = await sendPartition({ ...request, messages: unsent });
      failed.delete(key);
      return earlier ?? result;
    } catch (error) {
      failed.set(key, unsent[0] as OutgoingMessage);
      throw error;
    }
  }

  function queued(request: PartitionRequest): Promise<ProducedPartition> {
    const key = `${request.topic}\u0000${request.partition}`;
    const run = (tails.get(key) ?? Promise.resolve()).then(() => sendOne(key, request));
    const tail = run.catch(() => {});
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  }

  return {
    async send(batches) {
      const requests = partitionRequests(batches, partitionOf);
      const outcomes = await Promise.allSettled(requests.map(queued));
      const errors = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
      if (errors.length === 0)
        return outcomes.map((outcome) => (outcome as PromiseFulfilledResult<ProducedPartition>).value);
      // Remember what did land, so the caller's retry of the same records does not write it twice.
      outcomes.forEach((outcome, i) => {
        if (outcome.status !== 'fulfilled') return;
        for (const message of (requests[i] as PartitionRequest).messages)
          acknowledged.set(message, outcome.value);
      });
      // A final failure first: the caller must not retry a call that can never succeed.
      throw errors.find((error) => !isRetriable(toFleetgridError(error, 'INTERNAL'))) ?? errors[0];
    },
  };
}
