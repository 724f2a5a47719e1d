/**
 * The Kafka adapter: the only code that imports the Kafka client library (kafkajs).
 * Everything else uses what is exported here, in types fleetgrid owns (types.ts), so the
 * client can be swapped (for example for @platformatic/kafka) by rewriting this folder.
 *
 * Public surface:
 * - createKafkaClient(config, { log }) → KafkaClient: producer (plain or idempotent),
 *   transactionalProducer (transaction → send, sendOffsets with metadata, commit, abort),
 *   consumer (a group member handle with plain callbacks), admin (the operations used);
 * - the owned types: OutgoingMessage, ConsumedRecord, ConsumedBatch, FetchedBatch,
 *   CommitOffset, GroupJoin, RecordHeaders, …;
 * - toKafkaError (client failures as FleetgridError; KAFKA_RECORD_TOO_LARGE is final),
 *   partitionForKey (murmur2, as the Java client), headersToStrings;
 * - kafkaReconnectPolicy: a service's backoff capped for attempts to reach Kafka again.
 */
export { createKafkaClient } from './client.ts';
export { isKafkaUnreachable, toKafkaError, wrapKafka } from './errors.ts';
export { partitionForKey } from './partitioner.ts';
export { KAFKA_RECONNECT_CAP_MS, kafkaReconnectPolicy } from './reconnect.ts';

/**
 * maxWaitTimeMs of a reader that answers every record at once (minBytes 1: the broker
 * replies as soon as one arrives, so this wait adds no latency) on topics that are quiet
 * most of the time (the registry's CDC topics). It only bounds how often an idle reader
 * polls: at 50 ms a reader sent 20 fetches a second at rest, each one a request to build,
 * send and decode. Stop takes up to this long to end the poll in flight.
 */
export const IDLE_READER_MAX_WAIT_MS = 1_000;
export type * from './types.ts';

import type { RecordHeaders } from './types.ts';

/** Headers as strings: what DLQ readers and tests want to look at. */
export function headersToStrings(headers: RecordHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value)
      ? value.map(String).join(',')
      : Buffer.isBuffer(value)
        ? value.toString('utf8')
        : String(value);
  }
  return out;
}
